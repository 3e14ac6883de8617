"""VentaConnect end to end over real HTTP and a real WebSocket client, as a POS would drive it: create a
session with x-api-key, connect to `ws`, pay (sandbox transfer + worker tick), receive the final message and
see the socket close; the expiry path; the polling fallback by ref.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from gateway_core.adapters.models import Invoice, SandboxTransfer
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.domain.identifiers import new_solana_signature
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import NewStore
from tests import solana_pay_parser
from tests.conftest import running_services, tick
from tests.integration.venta_support import (
    CHECKOUT,
    DEV_CHECKOUT,
    LiveGateway,
    decode_uri_component,
    live_gateway,
    strictly_encoded,
    venta_key,
)

pytestmark = pytest.mark.timeout(120)
# A bound on each request and socket read, never a wait: a busy machine once took over 10 s to answer a create.
LIMIT = 40


@pytest.fixture
def gateway(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[LiveGateway]:
    with live_gateway(database_url, tmp_path, clock) as live:
        yield live


@pytest.fixture
def key(services: Services, store: NewStore) -> str:
    return venta_key(services, store.id)


@pytest.fixture
def slow_worker(settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    """A worker whose sandbox transfers take 5 s to become final, to see the 'paid, not final' state."""
    with running_services(replace(settings, sandbox_finality_seconds=5.0), clock) as svc:
        yield svc


def open_session(gateway: LiveGateway, key: str, path: str = DEV_CHECKOUT, **body: Any) -> dict[str, Any]:
    payload = {"amount": "12.50", "currency": "USD", "token": "USDC", **body}
    response = requests.post(gateway.base + path, json=payload, headers={"x-api-key": key}, timeout=LIMIT)
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    return session


def next_message(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=LIMIT))
    return message


def assert_closed(ws: Any) -> None:
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=LIMIT)
    assert ws.close_code == 1000


def test_pay_and_receive_payment_confirmed_then_the_socket_closes(gateway, key, slow_worker, clock) -> None:
    session = open_session(gateway, key, orderId="POS-1001")
    assert set(session) >= {"link", "ref", "ws"}
    assert session["ws"] == f"ws://{gateway.base.removeprefix('http://')}/v1/checkout/{session['ref']}/ws"

    # The link is scannable as is (already encodeURIComponent-encoded); decoded it is a Solana Pay request.
    assert strictly_encoded(session["link"])
    url = decode_uri_component(session["link"])
    transfer = solana_pay_parser.parse(url, decimals=6)
    assert transfer.amount == "12.5" and transfer.spl_token and len(transfer.references) == 1
    assert transfer.label == "Test Shop" and transfer.message == "Order POS-1001"

    with connect(session["ws"], open_timeout=LIMIT) as ws:
        with slow_worker.uow() as uow:
            paid = simulate_payment(uow, session["ref"], clock)
        tick(slow_worker)  # seen: paid, not final yet
        first = next_message(ws)
        # The document's word is the envelope's status (issue 16); ours is lifecycleStatus, type repeats status.
        assert first["status"] == "update" and first["code"] == "RECEIVE_REQUEST" and first["txSig"] == paid.tx_id
        assert (first["lifecycleStatus"], first["type"]) == ("paid", "update")
        clock.advance(seconds=5)
        tick(slow_worker)  # final
        confirmed = next_message(ws)
        assert confirmed["status"] == "confirmed" and confirmed["code"] == "PAYMENT_CONFIRMED"
        assert confirmed["lifecycleStatus"] == "settled"
        assert confirmed["txSig"] == paid.tx_id and confirmed["ref"] == session["ref"]
        assert_closed(ws)

    # A POS whose socket dropped polls by ref and sees the same final state.
    polled = requests.get(f"{gateway.base}{DEV_CHECKOUT}/{session['ref']}", headers={"x-api-key": key},
                          timeout=LIMIT)
    assert polled.status_code == 200
    body = polled.json()
    assert body["status"] == "confirmed" and body["code"] == "PAYMENT_CONFIRMED" and body["txSig"] == paid.tx_id
    assert body["final"] is True and body["event"] == confirmed
    assert requests.get(f"{gateway.base}{CHECKOUT}/{session['ref']}", headers={"x-api-key": key},
                        timeout=LIMIT).json()["event"] == confirmed


def test_a_late_connection_gets_the_final_message_at_once(gateway, key, services, clock) -> None:
    session = open_session(gateway, key, token="SOL")
    with services.uow() as uow:
        paid = simulate_payment(uow, session["ref"], clock)
    tick(services)
    tick(services)
    with connect(session["ws"], open_timeout=LIMIT) as ws:
        message = next_message(ws)
        assert message["code"] == "PAYMENT_CONFIRMED" and message["txSig"] == paid.tx_id
        assert message["token"] == "SOL"
        assert_closed(ws)


def test_expiry_sends_order_expired_and_closes(gateway, key, services, clock) -> None:
    session = open_session(gateway, key)
    # A POS session lasts 15 minutes: a quote the buyer at the counter pays now, not an hour later.
    assert (datetime.fromisoformat(session["expiresAt"]) - datetime.fromisoformat(session["createdAt"])
            == timedelta(minutes=15))
    with connect(session["ws"], open_timeout=LIMIT) as ws:
        tick(services)
        with pytest.raises(TimeoutError):  # nothing to say while the session waits for its payment
            ws.recv(timeout=0.5)
        clock.advance(minutes=14, seconds=59)
        tick(services)
        with pytest.raises(TimeoutError):  # still open one second before the end
            ws.recv(timeout=0.5)
        clock.advance(seconds=2)
        tick(services)
        message = next_message(ws)
        assert message["status"] == "expired" and message["code"] == "ORDER_EXPIRED"
        assert message["ref"] == session["ref"]
        assert_closed(ws)
    polled = requests.get(f"{gateway.base}{DEV_CHECKOUT}/{session['ref']}", headers={"x-api-key": key},
                          timeout=LIMIT)
    assert polled.json()["status"] == "expired" and polled.json()["code"] == "ORDER_EXPIRED"


def test_part_payment_is_an_update_and_the_closed_window_a_confirmation_timeout(gateway, key, services,
                                                                                clock) -> None:
    session = open_session(gateway, key)
    with connect(session["ws"], open_timeout=LIMIT) as ws:
        with services.uow() as uow:
            simulate_payment(uow, session["ref"], clock, "USDC", Decimal("5"))
        tick(services)
        update = next_message(ws)
        assert (update["status"], update["code"]) == ("update", "INSUFFICIENT_FUNDS")
        assert (update["amountPaid"], update["amountRemaining"], update["token"]) == ("5", "7.5", "USDC")
        clock.advance(minutes=15, seconds=1)
        tick(services)
        message = next_message(ws)
        assert (message["status"], message["code"]) == ("expired", "CONFIRMATION_TIMEOUT")
        assert_closed(ws)


def test_a_wrong_token_is_an_insufficient_funds_update(gateway, key, services, clock) -> None:
    session = open_session(gateway, key)
    with services.uow() as uow:  # SOL sent with the USDC request's reference: the ledger records it as such
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == session["ref"])).scalar_one()
        usdc = invoice.quote_for("USDC")
        assert usdc is not None
        uow.session.add(SandboxTransfer(tx_id=new_solana_signature(), asset="SOL", from_address=usdc.address,
                                        to_address=usdc.address, amount=10**8, reference=usdc.reference,
                                        created_at=clock.now()))
    with connect(session["ws"], open_timeout=LIMIT) as ws:
        tick(services)
        message = next_message(ws)
        assert (message["status"], message["code"]) == ("update", "INSUFFICIENT_FUNDS")
        assert message["amountPaid"] == "0" and "SOL" in message["message"]


def test_unknown_ref_is_refused_before_the_handshake(gateway, key) -> None:
    session = open_session(gateway, key)
    unknown = session["ws"].replace(session["ref"], "NOSUCHSESSION1")
    with pytest.raises(InvalidStatus) as refused:
        connect(unknown, open_timeout=LIMIT)
    assert refused.value.response.status_code == 404
    assert json.loads(refused.value.response.body)["code"] == "SESSION_NOT_FOUND"
