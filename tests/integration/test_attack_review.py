"""Issue 14's attack review, points 5-9: each finding replayed against the gateway, now answered rightly.

Descriptions that overflowed the QR code, cross-site posts to the pay page, an API key spelled to dodge the
access log's redaction, a world-readable database, and a VOLTXT key without a rate limit. (VeltPay's signed
GET bursts: tests/integration/test_veltpay_auth.py.)
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from bridge.cli import main
from bridge.serving import RedactingRequestHandler, redact
from gateway_core.adapters.db import make_engine
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.keys.key_limits import set_rate_limit
from gateway_core.stores.manage import NewStore
from tests.conftest import invoice_body, post_json, running_app, tick
from tests.solana_pay_parser import parse

CREATE = "/api/plugin/invoice/create"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ASSETS = ("SOL", "USDC", "USDT")
QR_VERSION_10_MODULES = 57


def create(client: Any, api_key: str, **fields: Any) -> str:
    response = post_json(client, CREATE, invoice_body(api_key, **fields))
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["invoice_number"])


def qr_modules(svg: str) -> int:
    match = re.search(r'viewBox="0 0 (\d+) \1"', svg)
    assert match, svg[:200]
    return int(match.group(1)) - 4  # the two-module quiet zone on each side


# -- point 5: the payment page always renders ---------------------------------------------------------------


@pytest.mark.parametrize("description", ["漢" * 1000, "😀" * 1000, "a %" * 333], ids=["cjk", "emoji", "percent"])
def test_the_pay_page_renders_whatever_the_description(client, store, description: str) -> None:
    number = create(client, store.api_key, description=description)
    page = client.get(f"/pay/{number}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert description[:50] in html  # the page itself shows the description
    for svg in re.findall(r'<svg class="qr-code".*?</svg>', html):
        assert qr_modules(svg) <= QR_VERSION_10_MODULES
    for asset in ASSETS:
        response = client.get(f"/pay/{number}/request/{asset}")
        assert response.status_code == 200, (asset, response.get_data(as_text=True)[:300])
        body = response.get_json()
        assert qr_modules(body["qr_svg"]) <= QR_VERSION_10_MODULES  # what wallets need, whatever the text
        if asset != "USDT":
            link = parse(body["payment_url"], decimals=9 if asset == "SOL" else 6)
            assert link.message is not None and len(link.message) <= 140 and link.message.endswith("\u2026")
            assert description.startswith(link.message[:-1])
    session = post_json(client, "/api/dynamic-payment/initiate",
                        invoice_body(store.api_key, external_payment_id="d-1", description=description))
    assert session.status_code == 201, session.get_json()
    assert client.get(f"/pay-dynamic/{session.get_json()['session_id']}").status_code == 200


# -- point 6: cross-site requests refused ----------------------------------------------------------------------


def status(client: Any, number: str) -> dict[str, Any]:
    response = client.get(f"/pay/{number}/status.json")
    assert response.status_code == 200
    return dict(response.get_json())


CROSS_SITE = [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://shop.gateway.test", "Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"},  # a browser without Sec-Fetch-Site
    {"Origin": "null"},  # a sandboxed frame elsewhere
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=["cross-site", "same-site", "origin", "null-origin"])
def test_cross_site_posts_change_nothing(client, services, store, headers: dict[str, str]) -> None:
    number = create(client, store.api_key)
    chosen = client.post(f"/pay/{number}/asset", data={"asset": "USDC"}, headers=headers)
    assert chosen.status_code == 403 and chosen.mimetype == "text/html"  # a form post: the friendly page
    empty = client.post(f"/pay/{number}/simulate", data=b"", content_type="application/x-www-form-urlencoded",
                        headers=headers)
    assert empty.status_code == 403
    as_json = post_json_with(client, f"/pay/{number}/simulate", {"mode": "full"}, headers)
    assert as_json.status_code == 403 and as_json.get_json()["error"]["code"] == "FORBIDDEN"
    tick(services)
    after = status(client, number)
    assert after["chosen_asset"] is None and after["amount_paid"] == "0" and after["status"] == "pending"


def post_json_with(client: Any, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    from bridge.jsonio import dumps

    return client.post(path, data=dumps(body), content_type="application/json", headers=headers)


def test_an_empty_form_post_is_not_an_empty_json_object(client, services, store) -> None:
    number = create(client, store.api_key)
    response = client.post(f"/pay/{number}/simulate", data=b"", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    response = client.post(f"/pay/{number}/simulate", data=b"", content_type="text/plain")
    assert response.status_code == 415
    tick(services)
    assert status(client, number)["amount_paid"] == "0"


def test_the_pages_own_requests_and_scripts_still_work(client, store) -> None:
    number = create(client, store.api_key)
    # The page's form, as a browser sends it (Sec-Fetch-Site), and as an older one does (Origin only).
    chosen = client.post(f"/pay/{number}/asset", data={"asset": "USDC"},
                         headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert chosen.status_code == 303
    assert post_json_with(client, f"/pay/{number}/asset", {"asset": "SOL"},
                          {"Origin": "https://gateway.test"}).status_code == 200  # PUBLIC_URL's origin
    assert status(client, number)["chosen_asset"] == "SOL"
    # The page's script (fetch, same origin) and a script without a browser (no Origin at all).
    sent = post_json_with(client, f"/pay/{number}/simulate", {"mode": "partial"},
                          {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert sent.status_code == 201
    assert client.post(f"/pay/{number}/simulate", data=b"").status_code == 201  # `curl -X POST`: pays the rest
    assert client.get(f"/pay/{number}").headers["Referrer-Policy"] == "same-origin"


# -- point 7: secrets stay secret ------------------------------------------------------------------------------


def test_redaction_decodes_parameter_names_first() -> None:
    key = "K" * 32
    for spelling in ("api_key", "api%5Fkey", "API_KEY", "Api%5fKey", "api-key", "api%2Dkey", "%61pi_key"):
        redacted = redact(f"/api/plugin/invoice/X/status?network=testnet&{spelling}={key}&{spelling}={key}")
        assert key not in redacted and redacted.count("[redacted]") == 2 and "network=testnet" in redacted
    assert redact("/pay/ABC") == "/pay/ABC"


@pytest.fixture
def served(app) -> Iterator[str]:
    """The app behind `voltbridge run`'s server and request handler, on an ephemeral loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RedactingRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_the_access_log_never_shows_the_key(served, client, store, caplog) -> None:
    number = create(client, store.api_key)
    caplog.set_level(logging.INFO, logger="werkzeug")
    for name in ("api%5Fkey", "api_key"):
        # Flask decodes `api%5Fkey` to `api_key`, so the plugins' GET is served...
        response = requests.get(f"{served}/api/plugin/invoice/{number}/status?{name}={store.api_key}", timeout=10)
        assert response.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len([line for line in lines if "/status?" in line]) == 2
    assert not any(store.api_key in line for line in lines)  # ...and logged without the key


def test_the_key_is_not_read_from_a_posts_query_string(client, store) -> None:
    response = client.post(f"/api/plugin/test-connection?api_key={store.api_key}", data=b"{}",
                           content_type="application/json")
    assert response.status_code == 401 and response.get_json()["error_code"] == "INVALID_API_KEY"
    body = invoice_body(store.api_key)
    del body["api_key"]
    response = post_json(client, f"{CREATE}?api_key={store.api_key}", body)
    assert response.status_code == 401
    ok = post_json(client, "/api/plugin/test-connection", {"api_key": store.api_key})
    assert ok.status_code == 200  # where the contract puts it: the body


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    path = tmp_path / "voltbridge.db"
    previous = os.umask(0o022)  # a usual shell umask: files would be 0644
    try:
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
            assert wal.exists() and shm.exists()
            assert (_mode(path), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)
        engine.dispose()
    finally:
        os.umask(previous)


def test_the_cli_creates_the_database_and_secrets_private(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    database = instance / "voltbridge.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "INSTANCE_PATH": str(instance),
           "LOG_LEVEL": "WARNING"}
    env.pop("SECRET_KEY", None)
    script = ("import os, sys; os.umask(0o022); from bridge.cli import main; "
              "sys.argv = ['voltbridge', 'db', 'upgrade']; main(standalone_mode=False); print(oct(os.umask(0)))")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _mode(database) == 0o600 and _mode(instance / "secret_key") == 0o600
    assert done.stdout.split()[-1] == "0o77"  # so whatever it creates later (-wal, -shm, files) is private too


# -- point 8: rate limits on every contract --------------------------------------------------------------------


def burst(client: Any, api_key: str, count: int) -> list[Any]:
    return [post_json(client, CREATE, invoice_body(api_key, external_invoice_id=f"burst-{n}"))
            for n in range(count)]


def check_limited(response: Any, limit: int) -> None:
    assert response.status_code == 429
    body = response.get_json()
    assert body["success"] is False and body["error_code"] == "RATE_LIMITED" and str(limit) in body["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_a_burst_of_voltxt_creates_beyond_the_keys_limit_is_refused(app, client, services, store, clock) -> None:
    with services.uow() as uow:
        set_rate_limit(uow, store.id, "voltxt", 150, clock)  # the key's own limit, on its row
    answers = burst(client, store.api_key, 200)
    assert [a.status_code for a in answers] == [201] * 150 + [429] * 50
    check_limited(answers[-1], 150)
    # The budget covers every endpoint that takes the key: lookups and dynamic payments too.
    number = answers[0].get_json()["invoice_number"]
    check_limited(client.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}"), 150)
    check_limited(post_json(client, "/api/dynamic-payment/initiate",
                            invoice_body(store.api_key, external_payment_id="d-1")), 150)
    check_limited(post_json(client, "/api/plugin/store/settings", {"api_key": store.api_key}), 150)
    clock.advance(seconds=60)  # the next window
    assert client.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}").status_code == 200


def _limited_apps(settings: Settings, clock: FrozenClock, **changes: Any) -> Iterator[tuple[Any, Any]]:
    """Two web processes' worth of apps on one database, with the VOLTXT default limit set to 3."""
    changed = replace(settings, voltxt_rate_limit_per_minute=3, **changes)
    with running_app(changed, clock) as first, running_app(changed, clock) as second:
        yield first.test_client(), second.test_client()


@pytest.fixture
def local_pair(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Any, Any]]:
    yield from _limited_apps(settings, clock)


@pytest.fixture
def redis_pair(settings: Settings, clock: FrozenClock) -> Iterator[tuple[Any, Any]]:
    yield from _limited_apps(settings, clock, redis_url=REDIS_URL)


def _statuses(first: Any, second: Any, store: NewStore, number: str) -> list[int]:
    path = f"/api/plugin/invoice/{number}/status?api_key={store.api_key}"
    return [client.get(path).status_code for client in (first, second, first, second)]


def test_the_default_limit_is_counted_per_process_without_redis(local_pair, services, store, clock) -> None:
    first, second = local_pair
    number = create(first, store.api_key)  # the first process's first request
    assert _statuses(first, second, store, number) == [200, 200, 200, 200]
    check_limited(first.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}"), 3)


def test_the_default_limit_is_shared_through_redis(redis_pair, services, store, clock) -> None:
    first, second = redis_pair
    number = create(first, store.api_key)
    assert _statuses(first, second, store, number) == [200, 200, 429, 429]
    check_limited(second.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}"), 3)
    clock.advance(seconds=60)
    assert _statuses(first, second, store, number)[:3] == [200, 200, 200]
    with services.uow() as uow:
        set_rate_limit(uow, store.id, "voltxt", 600, clock)  # the key's own limit outranks the default
    # (each app trusts its cached copy of the key for API_KEY_CACHE_SECONDS: the lookups read the row)
    assert first.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}").status_code == 200


def test_a_voltxt_keys_limit_is_shown_and_set_from_the_cli(app, client, store) -> None:
    def limit(*args: str) -> dict[str, Any]:
        result = app.test_cli_runner().invoke(main, ["key", "limit", str(store.id), "--kind", "voltxt", "--json",
                                                     *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output)["keys"][0])

    assert limit() == {**limit(), "per_minute": 600, "default": True}  # VOLTXT_RATE_LIMIT_PER_MINUTE's default
    assert limit("--per-minute", "2")["per_minute"] == 2
    number = create(client, store.api_key)
    assert client.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}").status_code == 200
    check_limited(client.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}"), 2)
    assert limit("--default") == {**limit(), "per_minute": 600, "default": True}
