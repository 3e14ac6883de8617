# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""VirtexGate contract, issue 8 points 4, 10 and 11: keys and webhook settings from the CLI, then a sandbox
payment driven as the spec's examples drive it, with every webhook checked against the documented recipe.

The receiver verifies signatures the way the spec tells a merchant to (hex HMAC-SHA256 of the raw body with
the webhook secret), written here from the spec and not through gateway_core's signing code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from bridge.cli import main
from gateway_core.adapters.jsonwire import loads
from gateway_core.adapters.models import DeliveryAttempt
from tests.conftest import invoice_body, post_json, tick
from tests.fakes.receiver import Received
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    deliveries,
    dispatcher,
    napp,
    nclient,
    nsettings,
    nsvc,
    pay,
    receiver,
    shop,
)

HOOK = "/webhook/payment"  # the path of the spec's Express handler
SPEC_BODY = """{
"storeId": "YOUR_STORE_ID",
"amount": 25.00,
"fiatCurrency": "USD",
"externalOrderId": "order-42",
"redirectUrl": "https://myshop.com/thank-you"
}"""  # the spec's curl example, verbatim


def cli(app: Any, *args: str) -> Any:
    result = app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)
    return result


def setup_store(app: Any, store_id: int, url: str) -> tuple[str, str]:
    """What a merchant does first: a VirtexGate key, then the webhook URL; returns (api key, webhook secret)."""
    key = cli(app, "key", "create", str(store_id), "--kind", "virtexgate", "--json")
    assert key.exit_code == 0, key.output
    hook = cli(app, "store", "set", str(store_id), "--contract", "virtexgate", "--webhook-url", url, "--json")
    assert hook.exit_code == 0, hook.output
    return json.loads(key.output)["api_key"], json.loads(hook.output)["webhook_secret"]


def create(client: Any, api_key: str, store_id: int, amount: str = "25.00") -> dict[str, Any]:
    """The spec's curl, byte for byte apart from the key, store id and amount."""
    body = SPEC_BODY.replace("YOUR_STORE_ID", str(store_id)).replace("25.00", amount)
    response = client.post("/api/invoices", data=body,
                           headers={"X-Api-Key": api_key, "Content-Type": "application/json"})
    assert response.status_code == 201, response.data
    created: dict[str, Any] = json.loads(response.data)
    return created


def status(client: Any, api_key: str, invoice_id: str) -> dict[str, Any]:
    response = client.get(f"/api/invoices/{invoice_id}", headers={"X-Api-Key": api_key})
    assert response.status_code == 200, response.data
    found: dict[str, Any] = loads(response.data)
    return found


def number_of(created: dict[str, Any]) -> str:
    return str(created["checkoutUrl"].rsplit("/", 1)[1])


def signature_ok(request: Received, secret: str) -> bool:
    """The merchant's check, from the spec: X-Signature = hex HMAC-SHA256(raw body, webhook secret)."""
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.header("X-Signature") or "")


def webhook(request: Received, secret: str) -> dict[str, Any]:
    """One received webhook, checked as a merchant's handler would, then its payload."""
    assert request.method == "POST" and request.path == HOOK
    assert signature_ok(request, secret), "X-Signature does not verify"
    assert request.header("Content-Type") == "application/json"
    payload: dict[str, Any] = request.json()
    assert request.header("X-Webhook-Event") == payload["event"]
    assert request.header("X-Invoice-Id") == payload["invoiceId"]
    return payload


def test_cli_issues_virtexgate_keys_in_the_documented_format_and_rotates_them(napp, nclient, shop, nsvc, clock):
    result = cli(napp, "key", "create", str(shop.id), "--kind", "virtexgate", "--json")
    issued = json.loads(result.output)
    assert issued["kind"] == "virtexgate" and issued["store_id"] == shop.id
    key = issued["api_key"]
    assert re.fullmatch(r"vgk_[A-Za-z0-9_-]{43}", key)
    assert len(base64.urlsafe_b64decode(key[4:] + "=")) == 32  # vgk_ + base64url(32 bytes)
    human = cli(napp, "key", "create", "Notify Shop", "--kind", "virtexgate")
    assert "shown once" in human.output and key not in human.output
    create(nclient, key, shop.id)

    rotated = cli(napp, "key", "rotate", str(shop.id), "--kind", "virtexgate", "--grace-hours", "1", "--json")
    new_key = json.loads(rotated.output)["api_key"]
    assert new_key.startswith("vgk_") and new_key != key
    create(nclient, key, shop.id)  # the old key keeps working through the grace period
    clock.advance(hours=1, seconds=1)
    refused = nclient.post("/api/invoices", json={"storeId": str(shop.id), "amount": 5}, headers={"X-Api-Key": key})
    assert refused.status_code == 401 and set(refused.get_json()) == {"error"}
    create(nclient, new_key, shop.id)


def test_cli_sets_and_shows_the_virtexgate_webhook_and_refuses_private_addresses(napp, shop, receiver):
    _, secret = setup_store(napp, shop.id, receiver.url(HOOK))
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    shown = cli(napp, "store", "set", str(shop.id), "--contract", "virtexgate", "--json")
    assert json.loads(shown.output) == {"store_id": shop.id, "contract": "virtexgate",
                                        "webhook_url": receiver.url(HOOK)}
    assert secret not in shown.output  # the secret is shown when issued, not in the settings
    human = cli(napp, "store", "set", str(shop.id), "--contract", "virtexgate")
    assert f"virtexgate webhook_url  {receiver.url(HOOK)}" in human.output
    # The store's settings list it too (URL only), in the CLI and in the plugin API's settings view.
    settings = json.loads(cli(napp, "store", "set", str(shop.id), "--json").output)
    assert [(h["contract"], h["url"]) for h in settings["contract_webhooks"]] == [("virtexgate", receiver.url(HOOK))]
    assert secret not in json.dumps(settings["contract_webhooks"])
    assert f"virtexgate webhook   {receiver.url(HOOK)}" in cli(napp, "store", "set", str(shop.id)).output
    # Moving the URL keeps the secret; --rotate-secret issues a new one.
    moved = cli(napp, "store", "set", str(shop.id), "--contract", "virtexgate", "--webhook-url",
                receiver.url("/other"), "--json")
    assert json.loads(moved.output)["webhook_secret"] == secret
    rotated = cli(napp, "store", "set", str(shop.id), "--contract", "virtexgate", "--rotate-secret", "--json")
    assert json.loads(rotated.output)["webhook_secret"] != secret
    # The SSRF guard: an address we would never call is refused when it is set.
    private = cli(napp, "store", "set", str(shop.id), "--contract", "virtexgate", "--webhook-url",
                  "http://10.1.2.3/hook")
    assert private.exit_code != 0 and "not allowed" in private.output


def test_a_sandbox_payment_through_the_contract_reports_every_step(napp, nclient, nsvc, shop, receiver, dispatcher,
                                                                   clock):
    nsvc.chains["sandbox"]._finality = 30  # seen now, final 30 seconds later: Processing, then Paid
    api_key, secret = setup_store(napp, shop.id, receiver.url(HOOK))
    created = create(nclient, api_key, shop.id)
    invoice_id, number = created["id"], number_of(created)

    # New: no webhook (the merchant just created it), status New with a pending payment.
    dispatcher.run_until_idle()
    assert receiver.posts() == []
    assert (status(nclient, api_key, invoice_id)["status"], status(nclient, api_key, invoice_id)["payment"]["status"]
            ) == ("New", "Pending")

    # The buyer picks USDC on the checkout page: Waiting.
    assert post_json(nclient, f"/pay/{number}/asset", {"asset": "USDC"}).status_code == 200
    waiting = status(nclient, api_key, invoice_id)
    assert waiting["status"] == "Waiting" and waiting["payment"]["coinType"] == "USDC"
    assert waiting["payment"]["amountDue"] == Decimal("25") and waiting["payment"]["status"] == "Pending"

    # The transfer is seen: Processing, payment Detected, and the invoice.processing webhook.
    pay(nsvc, number, "USDC")
    processing = status(nclient, api_key, invoice_id)
    assert processing["status"] == "Processing" and processing["secondsRemaining"] == 0
    payment = processing["payment"]
    assert payment["status"] == "Detected" and payment["amountPaid"] == Decimal("25") and payment["txId"]
    assert (payment["confirmations"], payment["requiredConfirmations"]) == (1, 32)
    dispatcher.run_until_idle()
    (first,) = receiver.wait_for(1, HOOK)
    assert webhook(first, secret) == {
        "event": "invoice.processing", "invoiceId": invoice_id, "storeId": str(shop.id), "status": "Processing",
        "amount": Decimal("25.00"), "fiatCurrency": "USD", "externalOrderId": "order-42",
        "createdAt": "2026-01-15T12:00:00Z", "paidAt": None, "overpaid": False,
    }

    # Final on chain: Paid, payment Confirmed, and invoice.paid; settling (direct mode) sends nothing more.
    clock.advance(seconds=30)
    tick(nsvc)
    paid = status(nclient, api_key, invoice_id)
    assert paid["status"] == "Paid" and paid["payment"]["status"] == "Confirmed"
    assert paid["payment"]["confirmations"] == 32 and paid["payment"]["txId"] == payment["txId"]
    dispatcher.run_until_idle()
    received = receiver.wait_for(2, HOOK)
    second = webhook(received[1], secret)
    assert second["event"] == "invoice.paid" and second["status"] == "Paid"
    assert second["paidAt"] == "2026-01-15T12:00:30Z" and second["externalOrderId"] == "order-42"

    # The spec's Express handler fulfils on invoice.paid: exactly once, for order-42.
    fulfilled = [webhook(r, secret)["externalOrderId"] for r in receiver.posts(HOOK)
                 if webhook(r, secret)["event"] == "invoice.paid"]
    assert fulfilled == ["order-42"] and len(receiver.posts()) == 2

    # Through the one outbox: logged deliveries on the contract's channel, each with its attempt.
    rows = deliveries(nsvc, channel="virtexgate")
    assert [(d.event_type, d.status) for d in rows] == [("invoice.processing", "delivered"),
                                                        ("invoice.paid", "delivered")]
    with nsvc.uow() as uow:
        attempts = uow.session.execute(select(DeliveryAttempt)).scalars().all()
    assert len(attempts) == 2 and all(a.ok and a.status_code == 200 for a in attempts)


def test_underpaid_then_closed_and_expired_invoices(napp, nclient, nsvc, shop, receiver, dispatcher, clock):
    api_key, secret = setup_store(napp, shop.id, receiver.url(HOOK))
    part = create(nclient, api_key, shop.id)
    unpaid = create(nclient, api_key, shop.id, amount="10")
    pay(nsvc, number_of(part), "USDC", Decimal("10"))
    assert status(nclient, api_key, part["id"])["status"] == "Underpaid"
    clock.advance(hours=24)
    tick(nsvc)
    dispatcher.run_until_idle()
    got = [webhook(r, secret) for r in receiver.wait_for(3, HOOK)]
    by_invoice: dict[str, list[tuple[str, str]]] = {}
    for payload in got:
        by_invoice.setdefault(payload["invoiceId"], []).append((payload["event"], payload["status"]))
    assert by_invoice == {
        part["id"]: [("invoice.underpaid", "Underpaid"), ("invoice.expired", "Expired")],
        unpaid["id"]: [("invoice.expired", "Expired")],
    }
    closed = status(nclient, api_key, part["id"])
    assert (closed["status"], closed["payment"]["status"]) == ("Expired", "Expired")
    assert closed["payment"]["amountPaid"] == Decimal("10")  # what arrived still shows
    assert (status(nclient, api_key, unpaid["id"])["status"], status(nclient, api_key, unpaid["id"])["payment"]
            ["status"]) == ("Expired", "Expired")


def test_overpaid_invoice(napp, nclient, nsvc, shop, receiver, dispatcher):
    api_key, secret = setup_store(napp, shop.id, receiver.url(HOOK))
    created = create(nclient, api_key, shop.id)
    pay(nsvc, number_of(created), "USDC", Decimal("30"))  # sandbox finality 0: seen and final in one tick
    dispatcher.run_until_idle()
    got = [webhook(r, secret) for r in receiver.wait_for(3, HOOK)]
    assert [(p["event"], p["status"]) for p in got] == [
        ("invoice.processing", "Processing"), ("invoice.paid", "Paid"), ("invoice.overpaid", "Paid")]
    # The document's Paid means "fulfil the order": an overpayment still reads Paid; ours says overpaid.
    assert [p["overpaid"] for p in got] == [True, True, True]
    assert all(p["amount"] == Decimal("25") for p in got)  # the invoice's amount, not what was paid
    final = status(nclient, api_key, created["id"])
    assert final["status"] == "Paid" and final["overpaid"] is True
    assert final["payment"]["amountPaid"] == Decimal("30")


def test_failed_deliveries_are_retried_with_the_same_body_and_a_valid_signature(
        napp, nclient, nsvc, shop, receiver, dispatcher, clock):
    receiver.on(HOOK, status=503, body=b"busy")
    api_key, secret = setup_store(napp, shop.id, receiver.url(HOOK))
    created = create(nclient, api_key, shop.id)
    pay(nsvc, number_of(created), "USDC")
    dispatcher.run_until_idle()
    assert len(receiver.posts(HOOK)) == 1  # invoice.processing; invoice.paid waits behind it (order per invoice)
    (delivery,) = [d for d in deliveries(nsvc, channel="virtexgate") if d.status == "pending" and d.attempts]
    assert delivery.last_status_code == 503
    receiver.on(HOOK, status=200)
    clock.current = delivery.next_attempt_at  # the schedule's first retry, 10 s later
    dispatcher.run_until_idle()
    dispatcher.run_until_idle()
    posts = receiver.wait_for(3, HOOK)
    assert posts[0].body == posts[1].body and all(signature_ok(p, secret) for p in posts)
    assert posts[0].header("webhook-id") == posts[1].header("webhook-id") != posts[2].header("webhook-id")
    assert [webhook(p, secret)["event"] for p in posts] == ["invoice.processing", "invoice.processing",
                                                             "invoice.paid"]
    assert {d.status for d in deliveries(nsvc, channel="virtexgate")} == {"delivered"}


def test_a_rotated_secret_signs_the_next_webhooks(napp, nclient, nsvc, shop, receiver, dispatcher):
    api_key, old_secret = setup_store(napp, shop.id, receiver.url(HOOK))
    created = create(nclient, api_key, shop.id)
    rotated = cli(napp, "store", "set", str(shop.id), "--contract", "virtexgate", "--rotate-secret", "--json")
    new_secret = json.loads(rotated.output)["webhook_secret"]
    pay(nsvc, number_of(created), "USDC")
    dispatcher.run_until_idle()
    posts = receiver.wait_for(2, HOOK)
    assert all(signature_ok(p, new_secret) and not signature_ok(p, old_secret) for p in posts)


def test_only_virtexgate_invoices_of_a_store_with_the_webhook_are_reported(napp, nclient, nsvc, shop, receiver,
                                                                           dispatcher):
    api_key = json.loads(cli(napp, "key", "create", str(shop.id), "--kind", "virtexgate", "--json").output)["api_key"]
    before = create(nclient, api_key, shop.id)  # no VirtexGate webhook set yet
    pay(nsvc, number_of(before), "USDC")
    setup_store(napp, shop.id, receiver.url(HOOK))
    voltxt = post_json(nclient, "/api/plugin/invoice/create", invoice_body(shop.api_key))
    pay(nsvc, voltxt.get_json()["invoice_number"], "USDC")
    dispatcher.run_until_idle()
    assert deliveries(nsvc, channel="virtexgate") == [] and receiver.posts(HOOK) == []
