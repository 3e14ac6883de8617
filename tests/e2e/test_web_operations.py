"""`voltbridge web` (gunicorn, gthread workers, two processes) beside `voltbridge worker`, as production runs
them, started once for everything that needs them:

- issue 23: /readyz turns ready once the worker's heartbeat is in, and one /metrics scrape counts the requests
  every gunicorn process answered (prometheus_client's multiprocess mode);
- the VentaConnect WebSocket learns of the payment the worker saw, from the database.

SQLite only (the processes share the instance folder's file); the Werkzeug path of the socket is covered by
tests/integration/test_venta_socket.py. The schema, the store, its key and the sandbox payment are made in this
process on the same instance folder (the commands that make them are tests/integration/test_cli.py's): only
the processes under test pay for a Python start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bridge.migrate import upgrade
from gateway_core.bootstrap import Services, build_services
from gateway_core.config import Settings
from gateway_core.keys.api_keys import issue_key
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import create_store
from tests.e2e.test_run_command import _free_port, _voltbridge

START_SECONDS = 45.0

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    port = _free_port()
    values = {k: v for k, v in os.environ.items()
              if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "SECRET_KEY", "FLASK_APP", "REDIS_URL"}}
    values.update({"INSTANCE_PATH": str(tmp_path / "instance"), "PUBLIC_URL": f"http://127.0.0.1:{port}",
                   "PORT": str(port), "SANDBOX_FINALITY_SECONDS": "0.5", "WATCH_INTERVAL_SECONDS": "0.3",
                   "LOG_JSON": "0", "PYTHONUNBUFFERED": "1"})
    return values


def migrated(env: dict[str, str]) -> Settings:
    """The instance folder's database migrated, as `voltbridge db upgrade` does it."""
    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    return settings


@pytest.fixture
def svc(env: dict[str, str]) -> Iterator[Services]:
    """Services of this process on the instance folder the processes under test share."""
    services = build_services(migrated(env))
    yield services
    if services.engine is not None:
        services.engine.dispose()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    running = [process for process in started if process.poll() is None]
    for process in running:  # all told at once: they shut down side by side, not one after the other
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def start(env: dict[str, str], cwd: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    with (cwd / f"{name}.log").open("wb") as log:
        return subprocess.Popen([_voltbridge(), *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)


def wait_ready(base: str, web: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if web.poll() is not None:
            pytest.fail(f"voltbridge web exited with {web.returncode}\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"voltbridge web did not start\n{log.read_text(errors='replace')}")


def _until(condition, what: str, seconds: float = START_SECONDS):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcome = condition()
        if outcome:
            return outcome
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s: {what}")



def test_web_and_worker_processes_ready_metrics_and_the_venta_socket(env, tmp_path: Path, processes, svc) -> None:
    # Readiness and metrics across the gunicorn processes (the worker starts after the web, so /readyz is
    # seen unready first).
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    base = env["PUBLIC_URL"]
    web = start(env, tmp_path, "web", "web", "--host", "127.0.0.1", "--port", env["PORT"], "--workers", "2",
                "--threads", "4")
    processes.append(web)
    wait_ready(base, web, tmp_path / "web.log")
    unready = requests.get(f"{base}/readyz", timeout=5)
    assert unready.status_code == 503 and "heartbeat" in unready.json()["reason"]

    processes.append(start(env, tmp_path, "worker", "worker"))
    _until(lambda: requests.get(f"{base}/readyz", timeout=5).status_code == 200, "the worker's heartbeat")

    for _ in range(40):  # new connections: the kernel spreads them over both processes (SO_REUSEPORT)
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    text = requests.get(f"{base}/metrics", timeout=5).text
    answered = sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == "voltbridge_http_requests_total"
                   and sample.labels == {"contract": "health", "endpoint": "/healthz", "status": "200"})
    assert answered >= 40
    assert len(list((tmp_path / "metrics").glob("counter_*.db"))) == 2  # both processes counted
    assert "voltbridge_worker_heartbeat_timestamp_seconds" in text

    # The VentaConnect socket, on the same processes, reports the payment the worker saw.
    with svc.uow() as uow:
        store = create_store(uow, svc.vault, name="Kiosk", network="sandbox")
        key = issue_key(uow, svc.vault, store.id, "venta").api_key
    created = requests.post(f"{base}/v1/dev/checkout/session", json={"amount": "4.20", "orderId": "K-1"},
                            headers={"x-api-key": key}, timeout=10)
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["ws"].startswith(f"ws://127.0.0.1:{env['PORT']}/")

    with connect(session["ws"], open_timeout=10) as ws:
        with svc.uow() as uow:  # what `voltbridge simulate pay` does: the worker process picks it up
            paid = simulate_payment(uow, session["ref"], svc.clock, None, None).tx_id
        messages = []
        while not messages or messages[-1]["type"] != "confirmed":
            messages.append(json.loads(ws.recv(timeout=30)))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1000
    assert messages[-1]["code"] == "PAYMENT_CONFIRMED" and messages[-1]["txSig"] == paid
    assert all(m["type"] == "update" for m in messages[:-1])
    polled = requests.get(f"{base}/v1/checkout/{session['ref']}", headers={"x-api-key": key}, timeout=10).json()
    assert polled["status"] == "confirmed" and polled["event"] == messages[-1]
    assert key not in (tmp_path / "web.log").read_text(errors="replace")
