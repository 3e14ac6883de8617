# ruff: noqa: F811 - pytest fixtures are imported from veltpay_support and used as arguments
"""Issue 8, points 6, 7, 10 and 11 for VeltPay: a plugin's requests, exactly as the spec's examples make them,
through full sandbox payments in USDT, checking the order and its signed webhooks at every step."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from bip_utils import Bip44Changes
from sqlalchemy import select

from gateway_core.adapters.models import Delivery, Invoice
from gateway_core.bootstrap import dispatcher_for
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import create_store
from tests.conftest import deliver_due, running_app, running_services, tick
from tests.fakes.receiver import Receiver
from tests.integration.veltpay_support import (  # noqa: F401 - fixtures
    ORDER_KEYS,
    PUBLIC_KEYS,
    WEBHOOK_DATA_KEYS,
    VeltClient,
    hooks,
    tron_account,
    velt_settings,
    veltpay_key,
    verify_webhook,
    vsettings,
    webhook_secret,
)

SPEC_BODY = {"order_ref": "inv_1001", "amount": "49.99", "ttl_seconds": 1800,
             "metadata": {"customer_id": "cus_88421"}}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


@pytest.fixture
def slow_finality(database_url, tmp_path, clock):
    """App and worker where a sandbox transfer takes 60 s to be final, so paid_unconfirmed can be watched."""
    settings = velt_settings(database_url, tmp_path, sandbox_finality_seconds=60.0)
    with running_services(settings, clock) as svc, running_app(settings, clock) as app:
        yield svc, app


def pay(svc: Any, order_id: str, amount: str | None = None) -> None:
    with svc.uow() as uow:
        simulate_payment(uow, order_id.removeprefix("ord_"), svc.clock, "USDT",
                         None if amount is None else Decimal(amount))
    tick(svc)


class Webhooks:
    """What the merchant's endpoint received, each one verified as the spec says before it is trusted."""

    def __init__(self, receiver: Receiver, secret: str, svc: Any) -> None:
        self.receiver, self.secret, self.svc = receiver, secret, svc
        self.seen = 0

    def new(self) -> list[dict[str, Any]]:
        deliver_due(self.svc)
        posts = self.receiver.posts("/velt")
        fresh, self.seen = posts[self.seen:], len(posts)
        out = []
        for post in fresh:
            assert verify_webhook(post.body, post.headers, self.secret), post.headers
            payload = post.json()
            assert post.header("X-Velt-Event") == payload["event"]
            assert list(payload) == ["event", "data", "sent_at"]
            assert list(payload["data"]) == WEBHOOK_DATA_KEYS
            assert re.fullmatch(r"\d{10}", post.header("X-Velt-Timestamp"))
            out.append(payload)
        return out


def test_full_usdt_payment_as_the_spec_examples_make_it(slow_finality, hooks, tron_account, clock) -> None:
    svc, app = slow_finality
    store = "Velt Shop"
    with svc.uow() as uow:
        create_store(uow, svc.vault, name=store, network="sandbox", tron_xpub=tron_account.PublicKey().ToExtended())
    velt = VeltClient(app.test_client(), veltpay_key(app, store), clock)
    webhooks = Webhooks(hooks, webhook_secret(app, store, hooks.url("/velt")), svc)
    created_at = clock.now()

    created = velt.post("/v1/orders", SPEC_BODY)
    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    assert list(order) == [*ORDER_KEYS, "metadata"]
    deposit = tron_account.Change(Bip44Changes.CHAIN_EXT).AddressIndex(0).PublicKey().ToAddress()
    assert {k: v for k, v in order.items() if k not in ("id", "checkout_url")} == {
        "order_ref": "inv_1001", "status": "pending", "amount": "49.99", "amount_paid": "0", "currency": "USDT",
        "chain": "TRON", "address": deposit, "tx_hash": None, "confirmations": 0,
        "expires_at": (created_at + timedelta(seconds=1800)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metadata": {"customer_id": "cus_88421"}}
    assert re.fullmatch(r"ord_[A-Z0-9]+", order["id"])
    public_id = re.fullmatch(rf"https://gateway\.test/v1/public/checkout/({UUID})", order["checkout_url"]).group(1)
    with svc.uow() as uow:  # ttl_seconds is the invoice's window, to the second; only USDT is offered
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == order["id"][4:])).scalar_one()
        assert invoice.expires_at - invoice.created_at == timedelta(seconds=1800)
        assert [(q.asset, q.chain, q.amount_due) for q in invoice.quotes] == [("USDT", "sandbox", 49_990_000)]
        assert invoice.contract == "veltpay"

    (pending,) = webhooks.new()
    assert pending["event"] == "order.pending"
    assert pending["data"] == {k: order[k] for k in WEBHOOK_DATA_KEYS}

    # The hosted checkout: the link leads to the pay page; the public endpoint shows display-safe fields only.
    http = app.test_client()
    hosted = http.get(f"/v1/public/checkout/{public_id}")
    assert hosted.status_code == 302 and hosted.headers["Location"].endswith(f"/pay/{order['id'][4:]}")
    assert http.get(hosted.headers["Location"]).status_code == 200
    shown = http.get(f"/v1/public/orders/{public_id}")
    assert shown.status_code == 200 and list(shown.get_json()) == PUBLIC_KEYS
    assert shown.get_json() == {k: order[k] for k in PUBLIC_KEYS}

    # The buyer pays in full: detected, not final.
    pay(svc, order["id"])
    fetched = velt.get(f"/v1/orders/{order['id']}").get_json()
    assert fetched["status"] == "paid_unconfirmed" and fetched["amount_paid"] == "49.99"
    assert re.fullmatch(r"[0-9a-f]{64}", fetched["tx_hash"]) and fetched["confirmations"] >= 1
    (detected,) = webhooks.new()
    assert detected["event"] == "order.paid_unconfirmed"
    assert detected["data"]["status"] == "paid_unconfirmed" and detected["data"]["tx_hash"] == fetched["tx_hash"]
    assert http.get(f"/v1/public/orders/{public_id}").get_json()["status"] == "paid_unconfirmed"

    # Finality: confirmed (the webhook), then completed (direct settlement: the funds are at the xpub's owner).
    clock.advance(seconds=60)
    tick(svc)
    (confirmed,) = webhooks.new()
    assert confirmed["event"] == "order.confirmed"
    assert confirmed["data"]["status"] == "confirmed" and confirmed["data"]["confirmations"] == 32
    assert confirmed["data"]["amount_paid"] == "49.99"
    final = velt.get(f"/v1/orders/{order['id']}").get_json()
    assert final["status"] == "completed" and final["confirmations"] == 32 and final["tx_hash"] == fetched["tx_hash"]
    assert http.get(f"/v1/public/orders/{public_id}").get_json()["status"] == "completed"
    listed = velt.get("/v1/orders?limit=2&offset=0").get_json()
    assert listed == {"data": [final], "limit": 2, "offset": 0}
    assert webhooks.new() == []  # completed has no event in the spec


def test_underpaid_then_window_closes_and_an_unpaid_order_expires(slow_finality, hooks, tron_account, clock) -> None:
    svc, app = slow_finality
    with svc.uow() as uow:
        create_store(uow, svc.vault, name="Velt Shop", network="sandbox",
                     tron_xpub=tron_account.PublicKey().ToExtended())
    velt = VeltClient(app.test_client(), veltpay_key(app, "Velt Shop"), clock)
    webhooks = Webhooks(hooks, webhook_secret(app, "Velt Shop", hooks.url("/velt")), svc)
    opened = clock.now()
    short = velt.post("/v1/orders", {"order_ref": "inv_2001", "amount": "120.000001", "ttl_seconds": 600})
    unpaid = velt.post("/v1/orders", {"order_ref": "inv_2002", "amount": "5", "ttl_seconds": 900})
    assert (short.status_code, unpaid.status_code) == (201, 201)
    short_id, unpaid_id = short.get_json()["id"], unpaid.get_json()["id"]
    assert [w["event"] for w in webhooks.new()] == ["order.pending", "order.pending"]

    pay(svc, short_id, "100.5")
    clock.advance(seconds=60)
    tick(svc)
    (partial,) = webhooks.new()
    assert partial["event"] == "order.underpaid"
    # amount_paid is written at the scale of the order's amount (issue 16).
    assert (partial["data"]["status"], partial["data"]["amount_paid"], partial["data"]["amount"]) == (
        "underpaid", "100.500000", "120.000001")
    assert velt.get(f"/v1/orders/{short_id}").get_json()["status"] == "underpaid"

    # The window closes at exactly created + ttl_seconds.
    clock.current = opened + timedelta(seconds=599)
    tick(svc)
    assert webhooks.new() == []
    clock.advance(seconds=1)
    tick(svc)
    # Closing part-paid is the document's order.expired ("TTL elapsed without full payment"), after the
    # order.underpaid above; amount_paid still shows the part received.
    (closed,) = webhooks.new()
    assert (closed["event"], closed["data"]["status"], closed["data"]["id"]) == ("order.expired", "expired",
                                                                                  short_id)
    assert closed["data"]["amount_paid"] == "100.500000"
    clock.current = opened + timedelta(seconds=1 + 899)  # the second order was created a second later
    tick(svc)
    assert webhooks.new() == []
    clock.advance(seconds=1)
    tick(svc)
    (expired,) = webhooks.new()
    assert (expired["event"], expired["data"]["status"], expired["data"]["id"]) == ("order.expired", "expired",
                                                                                     unpaid_id)
    listed = velt.get("/v1/orders").get_json()
    assert [(o["id"], o["status"]) for o in listed["data"]] == [(unpaid_id, "expired"), (short_id, "expired")]
    assert (listed["limit"], listed["offset"]) == (20, 0)


def test_retries_send_the_same_body_signed_afresh_with_each_send_time(vsettings, hooks, tron_account, clock):
    with running_services(vsettings, clock) as svc, running_app(vsettings, clock) as app:
        with svc.uow() as uow:
                create_store(uow, svc.vault, name="Velt Shop", network="sandbox")
        velt = VeltClient(app.test_client(), veltpay_key(app, "Velt Shop"), clock)
        secret = webhook_secret(app, "Velt Shop", hooks.url("/velt"))
        hooks.on("/velt", status=503)
        assert velt.post("/v1/orders", {"order_ref": "r1", "amount": "10"}).status_code == 201
        worker = dispatcher_for(svc)
        try:
            worker.run_until_idle()
            (delivery,) = _deliveries(svc)
            clock.current = delivery.next_attempt_at + timedelta(seconds=3)
            hooks.on("/velt", status=200)
            worker.run_until_idle()
        finally:
            worker.shutdown(wait=False)
        first, second = hooks.posts("/velt")
        assert first.body == second.body  # sent_at is fixed at enqueue, so a retry carries the same bytes
        assert int(second.header("X-Velt-Timestamp")) - int(first.header("X-Velt-Timestamp")) >= 10
        assert verify_webhook(first.body, first.headers, secret) and verify_webhook(second.body, second.headers,
                                                                                   secret)
        assert _deliveries(svc)[0].status == "delivered"


def _deliveries(svc: Any) -> list[Delivery]:
    with svc.uow() as uow:
        return list(uow.session.execute(select(Delivery).where(Delivery.channel == "veltpay")
                                        .order_by(Delivery.id)).scalars())


def test_late_and_excess_payments_are_reported_never_lost(vsettings, hooks, clock) -> None:
    with running_services(vsettings, clock) as svc, running_app(vsettings, clock) as app:
        with svc.uow() as uow:
            create_store(uow, svc.vault, name="Velt Shop", network="sandbox")
        velt = VeltClient(app.test_client(), veltpay_key(app, "Velt Shop"), clock)
        webhooks = Webhooks(hooks, webhook_secret(app, "Velt Shop", hooks.url("/velt")), svc)
        late = velt.post("/v1/orders", {"order_ref": "late", "amount": "20", "ttl_seconds": 60}).get_json()
        clock.advance(seconds=60)
        assert velt.get(f"/v1/orders/{late['id']}").get_json()["status"] == "expired"  # before the job runs
        tick(svc)
        assert [w["event"] for w in webhooks.new()] == ["order.pending", "order.expired"]
        pay(svc, late["id"], "25")  # after the window, and more than due
        events = webhooks.new()
        assert [w["event"] for w in events] == ["order.paid_unconfirmed", "order.confirmed"]
        assert events[-1]["data"]["amount_paid"] == "25" and events[-1]["data"]["amount"] == "20"
        final = velt.get(f"/v1/orders/{late['id']}").get_json()
        assert (final["status"], final["amount_paid"]) == ("completed", "25")
