"""A VeltPay merchant's side of the tests, written from shared/specs/veltpay-api.txt alone (not from our code).

`VeltClient` signs like the spec's Node `sign({secret, method, path, body})`; `verify_webhook` is the spec's
`verifyWebhook(rawBody, headers, endpointSecret)`. Fixtures give an app and a worker on one database, with
loopback webhooks allowed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins

from bridge.cli import main
from gateway_core.bootstrap import Services, dispatcher_for
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.notifications.dispatch import Dispatcher
from gateway_core.stores.manage import create_store
from tests.conftest import running_app, running_services
from tests.fakes.receiver import Receiver
from tests.integration.notify_support import notify_settings_for

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
ORDER_KEYS = ["id", "order_ref", "status", "amount", "amount_paid", "currency", "chain", "address", "tx_hash",
              "confirmations", "expires_at", "checkout_url"]
WEBHOOK_DATA_KEYS = ORDER_KEYS[:-1]
PUBLIC_KEYS = ["status", "amount", "amount_paid", "currency", "chain", "address", "confirmations", "expires_at"]


@dataclass
class Key:
    key_id: str
    secret: str


class VeltClient:
    """Sends requests as the spec's examples do: JSON.stringify'd body, three headers, fresh signature each time.

    The gateway runs on a frozen clock, so the client reads the time from it (the spec: keep clocks in sync) and
    lets one second pass after each request, as a real client's requests are never at the same instant.
    """

    def __init__(self, http: Any, key: Key, clock: FrozenClock) -> None:
        self.http, self.key, self.clock = http, key, clock

    def now(self) -> str:
        return str(int(self.clock.now().timestamp()))  # Math.floor(Date.now() / 1000).toString()

    def sign(self, method: str, path: str, body: str = "", ts: str | None = None,
             secret: str | None = None) -> tuple[str, str]:
        ts = ts or self.now()
        body_hash = hashlib.sha256(body.encode()).hexdigest()
        canonical = "\n".join([ts, method.upper(), path, body_hash])
        signature = hmac.new((secret or self.key.secret).encode(), canonical.encode(), hashlib.sha256).hexdigest()
        return ts, signature

    def headers(self, method: str, path: str, body: str = "", **sign: Any) -> dict[str, str]:
        ts, signature = self.sign(method, path, body, **sign)
        return {"Content-Type": "application/json", "X-Api-Key": self.key.key_id, "X-Timestamp": ts,
                "X-Signature": signature}

    def send(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> Any:
        response = self.http.open(path, method=method, data=body.encode(),
                                  headers=headers or self.headers(method, path, body))
        self.clock.advance(seconds=1)
        return response

    def post(self, path: str, payload: Any) -> Any:
        return self.send("POST", path, json.dumps(payload, separators=(",", ":")))  # JSON.stringify

    def get(self, path: str) -> Any:
        return self.send("GET", path)


def verify_webhook(raw_body: bytes, headers: dict[str, str], endpoint_secret: str) -> bool:
    """verifyWebhook from the spec: HMAC over timestamp + "." + raw body, compared in constant time."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ts = lowered["x-velt-timestamp"]
    sig = lowered["x-velt-signature"]
    expected = hmac.new(endpoint_secret.encode(), ts.encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    a, b = bytes.fromhex(sig), bytes.fromhex(expected)
    return len(a) == len(b) and hmac.compare_digest(a, b)


def cli(app: Any, *args: str) -> Any:
    result = app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def veltpay_key(app: Any, store: str) -> Key:
    """`voltbridge key create <store> --kind veltpay --json`, as a merchant would run it."""
    shown = json.loads(cli(app, "key", "create", store, "--kind", "veltpay", "--json").output)
    return Key(shown["key_id"], shown["secret"])


def webhook_secret(app: Any, store: str, url: str) -> str:
    """`voltbridge store set <store> --contract veltpay --webhook-url URL --json`: the endpoint secret."""
    shown = json.loads(cli(app, "store", "set", store, "--contract", "veltpay", "--webhook-url", url,
                           "--json").output)
    return str(shown["webhook_secret"])


@pytest.fixture(scope="module")
def tron_account() -> Any:
    seed = Bip39SeedGenerator(MNEMONIC).Generate()
    return Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(0)


velt_settings = notify_settings_for  # the notification tests' settings: webhooks to 127.0.0.1 allowed


@pytest.fixture
def vsettings(database_url: str, tmp_path: Path) -> Settings:
    return notify_settings_for(database_url, tmp_path)


@pytest.fixture
def vsvc(vsettings: Settings, clock: FrozenClock) -> Iterator[Services]:
    with running_services(vsettings, clock) as svc:
        yield svc


@pytest.fixture
def vapp(vsettings: Settings, clock: FrozenClock) -> Iterator[Any]:
    with running_app(vsettings, clock) as app:
        yield app


@pytest.fixture
def vdispatcher(vsvc: Services) -> Iterator[Dispatcher]:
    worker = dispatcher_for(vsvc)
    yield worker
    worker.shutdown(wait=False)


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def velt_store(vsvc: Services, tron_account: Any) -> int:
    """A sandbox store taking USDT at watch-only addresses derived from its TRON xpub (one per order)."""
    with vsvc.uow() as uow:
        return create_store(uow, vsvc.vault, name="Velt Shop", network="sandbox",
                            tron_xpub=tron_account.PublicKey().ToExtended()).id


@pytest.fixture
def velt(vapp: Any, velt_store: int, clock: FrozenClock) -> VeltClient:
    return VeltClient(vapp.test_client(), veltpay_key(vapp, str(velt_store)), clock)
