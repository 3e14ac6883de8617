"""veltpay-api.txt, example by example, against the live app: the signed curl create (its exact body) and the
201, retrieve, list, webhook and public examples, each compared with what the app answers or sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway_core.bootstrap import dispatcher_for
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import create_store
from tests.conftest import running_app, running_services, tick
from tests.contracts.conformance import ISO_SECONDS, conforms, example, literals, parse, raw
from tests.fakes.receiver import Receiver
from tests.integration.notify_support import notify_settings_for
from tests.integration.veltpay_support import MNEMONIC, VeltClient, veltpay_key, verify_webhook, webhook_secret

STORE = "Velt Shop"
ORDER_LITERALS = ("order_ref", "status", "amount", "amount_paid", "currency", "chain")


@pytest.fixture
def velt_world(database_url: str, tmp_path: Path, clock: Any) -> Iterator[tuple[Any, Any, VeltClient, str, Receiver]]:
    """A sandbox store taking USDT at xpub-derived addresses, transfers final 60 s after they are seen, a signed
    client as the document's Node example, and the merchant's webhook endpoint."""
    from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins

    account = Bip44.FromSeed(Bip39SeedGenerator(MNEMONIC).Generate(), Bip44Coins.TRON).Purpose().Coin().Account(0)
    settings = notify_settings_for(database_url, tmp_path, sandbox_finality_seconds=60.0)
    with running_services(settings, clock) as svc, running_app(settings, clock) as app, Receiver() as hooks:
        with svc.uow() as uow:
            create_store(uow, svc.vault, name=STORE, network="sandbox",
                         tron_xpub=account.PublicKey().ToExtended())
        velt = VeltClient(app.test_client(), veltpay_key(app, STORE), clock)
        yield svc, app, velt, webhook_secret(app, STORE, hooks.url("/velt")), hooks


def pay(svc: Any, order_id: str, amount: str | None = None) -> None:
    with svc.uow() as uow:
        simulate_payment(uow, order_id.removeprefix("ord_"), svc.clock, "USDT",
                         None if amount is None else Decimal(amount))
    tick(svc)


def webhooks(svc: Any, hooks: Receiver, secret: str) -> list[dict[str, Any]]:
    """Everything the endpoint received so far, each verified as the document's verifyWebhook does."""
    worker = dispatcher_for(svc, timeout=5.0)
    try:
        worker.run_until_idle(timeout=10)
    finally:
        worker.shutdown(wait=False)
    out = []
    for post in hooks.posts("/velt"):
        assert verify_webhook(post.body, post.headers, secret)
        payload = parse(post.body)
        assert post.header("X-Velt-Event") == payload["event"]
        out.append(payload)
    return out


def create_documented(velt: VeltClient) -> Any:
    """The curl example's body, byte for byte, signed over those bytes."""
    return velt.send("POST", "/v1/orders", raw("veltpay/create_request.json").decode())


def test_the_curl_create_answers_the_documented_201(velt_world) -> None:
    _, _, velt, _, _ = velt_world
    response = create_documented(velt)
    assert response.status_code == 201, response.data
    ours = parse(response.data)
    documented = example("veltpay/create_response.json")
    conforms(documented, ours)
    literals(documented, ours, *ORDER_LITERALS, "tx_hash", "confirmations")
    assert ISO_SECONDS.match(ours["expires_at"]) and re.match(r"^ord_[A-Z0-9]+$", ours["id"])
    assert ours["checkout_url"].startswith("https://gateway.test/")
    assert ours["metadata"] == {"customer_id": "cus_88421"}  # "returned verbatim"
    # The Node example's JSON.stringify({ order_ref: "inv_1001", amount: "49.99" }): the same order again.
    retry = velt.send("POST", "/v1/orders", '{"order_ref":"inv_1001","amount":"49.99"}')
    assert retry.status_code == 200 and parse(retry.data)["id"] == ours["id"]


def test_retrieve_list_and_public_answer_as_documented(velt_world, clock) -> None:
    svc, _, velt, _, _ = velt_world
    older = parse(velt.post("/v1/orders", {"order_ref": "inv_1000", "amount": "120.00"}).data)
    pay(svc, older["id"])
    clock.advance(seconds=61)
    tick(svc)  # final: confirmed, then completed (xpub addresses settle at once)
    order = parse(create_documented(velt).data)
    documented_public = example("veltpay/public_response.json")
    public_id = order["checkout_url"].rsplit("/", 1)[1]
    public = parse(velt.http.get(f"/v1/public/orders/{public_id}").data)
    conforms(documented_public, public)
    literals(documented_public, public, "status", "amount", "amount_paid", "currency", "chain", "confirmations")
    pay(svc, order["id"])

    retrieved = parse(velt.get(f"/v1/orders/{order['id']}").data)
    documented = example("veltpay/retrieve_response.json")
    conforms(documented, retrieved)
    literals(documented, retrieved, *ORDER_LITERALS)
    assert retrieved["tx_hash"] and retrieved["confirmations"] >= 1

    listed = parse(velt.get("/v1/orders?limit=2&offset=0").data)
    documented_list = example("veltpay/list_response.json")
    conforms(documented_list, listed)
    literals(documented_list, listed, "limit", "offset")
    for want, got in zip(documented_list["data"], listed["data"], strict=True):
        literals(want, got, "order_ref", "status", "amount")  # "120.00" comes back "120.00"
        conforms(documented, got)  # "Each entry in data is a full order object"


def test_the_order_confirmed_webhook_is_the_documented_payload(velt_world, clock) -> None:
    svc, _, velt, secret, hooks = velt_world
    order = parse(create_documented(velt).data)
    pay(svc, order["id"])
    clock.advance(seconds=61)
    tick(svc)
    confirmed = next(w for w in webhooks(svc, hooks, secret) if w["event"] == "order.confirmed")
    documented = example("veltpay/webhook.json")
    conforms(documented, confirmed)
    literals(documented, confirmed, "event", *(f"data.{name}" for name in ORDER_LITERALS))
    assert confirmed["data"]["id"] == order["id"] and ISO_SECONDS.match(confirmed["sent_at"])
    assert set(confirmed["data"]) == set(documented["data"])  # the order as the example shows it, no more


def test_scale_is_kept_and_a_part_paid_order_closes_with_order_expired(velt_world, clock) -> None:
    svc, _, velt, secret, hooks = velt_world
    order = parse(velt.post("/v1/orders", {"order_ref": "inv_1002", "amount": "20.50", "ttl_seconds": 600}).data)
    assert (order["amount"], order["amount_paid"]) == ("20.50", "0")
    pay(svc, order["id"], "10.5")
    assert parse(velt.get(f"/v1/orders/{order['id']}").data)["amount_paid"] == "10.50"  # the order's scale
    clock.advance(seconds=601)
    tick(svc)
    sent = [(w["event"], w["data"]["status"], w["data"]["amount_paid"]) for w in webhooks(svc, hooks, secret)]
    assert sent == [("order.pending", "pending", "0"), ("order.underpaid", "underpaid", "10.50"),
                    ("order.expired", "expired", "10.50")]
    # "key off data.id + event": each is one event of the order, so nothing is deduplicated away.
    assert len({(order["id"], event) for event, _, _ in sent}) == len(sent)
