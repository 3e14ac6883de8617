"""Fixtures shared by the Saleor tests: a fake Saleor instance, the merchant's consent, an installed app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway_core.adapters.jsonwire import loads
from gateway_core.config import Settings
from tests.fakes.saleor import FakeSaleor, Transaction
from tests.integration.notify_support import notify_settings_for


@pytest.fixture
def nsettings(database_url: str, tmp_path: Path) -> Settings:
    """Loopback allowed (the fake instance) and sandbox transfers final 5 s after they are seen, so a payment
    is reported as seen (CHARGE_REQUEST) before it is final (CHARGE_SUCCESS)."""
    return notify_settings_for(database_url, tmp_path, sandbox_finality_seconds=5.0)


@pytest.fixture
def saleor() -> Iterator[FakeSaleor]:
    with FakeSaleor() as instance:
        yield instance


def cli(app: Any, *args: str) -> Any:
    from bridge.cli import main

    return app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def allow(app: Any, store_id: int, api_url: str) -> dict[str, Any]:
    result = cli(app, "saleor", "allow", str(store_id), "--api-url", api_url, "--json")
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.output)
    return answer


@pytest.fixture
def installed(napp: Any, nclient: Any, shop: Any, saleor: FakeSaleor) -> FakeSaleor:
    """The app installed on the fake instance, which the merchant bound to `shop`."""
    allow(napp, shop.id, saleor.api_url)
    response = saleor.install(nclient)
    assert response.status_code == 200, response.get_json()
    return saleor


def send(client: Any, saleor: FakeSaleor, event: str, obj: dict[str, Any], **options: Any) -> Any:
    """POST the signed sync webhook Saleor would send for this event object."""
    path, body, headers = saleor.webhook(event, obj, **options)
    return client.post(path, data=body, headers=headers)


def initialize(client: Any, saleor: FakeSaleor, tx: Transaction, **fields: Any) -> dict[str, Any]:
    """transactionInitialize on the fake Saleor (its request event, our answer applied); our answer."""
    response, _ = saleor.transaction_initialize(client, tx, **fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    return exact(response)


def process(client: Any, saleor: FakeSaleor, tx: Transaction) -> dict[str, Any]:
    """transactionProcess on the fake Saleor: the event it holds afterwards (our answer, if it called us)."""
    _, event = saleor.transaction_process(client, tx)
    return event


def exact(response: Any) -> Any:
    """The JSON body with numbers as Decimal (get_json would turn amounts into floats)."""
    return loads(response.data)
