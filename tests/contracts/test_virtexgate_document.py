"""virtexgate-api.txt, example by example, against the live app: the curl create and its answer, the
Idempotency-Key request, the status response shape, the webhook payload and headers with the Express handler's
reading, and the error reference's status codes."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from decimal import Decimal
from typing import Any

from gateway_core.keys.key_limits import set_rate_limit
from gateway_core.payments.sandbox import simulate_payment
from tests.conftest import tick
from tests.contracts.conformance import ISO_SECONDS, conforms, example, headers_of, literals, parse, raw
from tests.integration.test_virtexgate_webhooks import setup_store

INVOICES = "/api/invoices"
HOOK = "/webhook/payment"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def document_body(store_id: int, **replace: bytes) -> bytes:
    """The curl example's -d body, byte for byte but for the store id (and any replacements asked for)."""
    body = raw("virtexgate/create_request.json").replace(b"YOUR_STORE_ID", str(store_id).encode())
    for old, new in replace.items():
        body = body.replace(old.encode(), new)
    return body


def create(client: Any, api_key: str, body: bytes, **headers: str) -> Any:
    return client.post(INVOICES, data=body, headers={"X-Api-Key": api_key, "Content-Type": "application/json",
                                                     **headers})


def status(client: Any, api_key: str, invoice_id: str) -> Any:
    response = client.get(f"{INVOICES}/{invoice_id}", headers={"X-Api-Key": api_key})
    assert response.status_code == 200, response.data
    return parse(response.data)


def number_of(created: dict[str, Any]) -> str:
    return str(created["checkoutUrl"].rsplit("/", 1)[1])


def pay(nsvc: Any, created: dict[str, Any], amount: Decimal | None = None) -> None:
    with nsvc.uow() as uow:
        simulate_payment(uow, number_of(created), nsvc.clock, "USDC", amount)
    tick(nsvc)


def test_the_curl_example_returns_id_checkout_url_and_expiry(napp, nclient, shop, receiver) -> None:
    api_key, _ = setup_store(napp, shop.id, receiver.url(HOOK))
    response = create(nclient, api_key, document_body(shop.id))
    assert response.status_code == 201, response.data
    ours = parse(response.data)
    # "# { "id": "3fa85f64...", "checkoutUrl": "https://your-host/checkout/3fa85f64...", "expiresAt": "..." }"
    returns = raw("virtexgate/create_response.txt").decode()
    assert list(ours) == re.findall(r'"(\w+)":', returns) == ["id", "checkoutUrl", "expiresAt"]
    assert UUID.match(ours["id"]) and ours["checkoutUrl"].startswith("https://gateway.test/")
    assert ISO_SECONDS.match(ours["expiresAt"])


def test_the_idempotency_key_example_replays_and_refuses_another_body(napp, nclient, shop, receiver) -> None:
    api_key, _ = setup_store(napp, shop.id, receiver.url(HOOK))
    documented = headers_of("virtexgate/idempotency_request_headers.txt")
    headers = {**documented, "X-Api-Key": api_key}
    assert documented["X-Api-Key"] == "vgk_YOUR_API_KEY"
    first = nclient.post(INVOICES, data=document_body(shop.id), headers=headers)
    again = nclient.post(INVOICES, data=document_body(shop.id), headers=headers)
    assert first.status_code == again.status_code == 201 and first.data == again.data  # "replays the original 201"
    other = nclient.post(INVOICES, data=document_body(shop.id, **{"25.00": b"26.00"}), headers=headers)
    assert other.status_code == 409 and set(parse(other.data)) == {"error"}


def test_the_status_response_shape(napp, nclient, nsvc, shop, receiver, clock) -> None:
    api_key, _ = setup_store(napp, shop.id, receiver.url(HOOK))
    created = parse(create(nclient, api_key, document_body(shop.id)).data)
    nsvc.chains["sandbox"]._finality = 30  # seen now, final later: "Processing", payment "Detected"
    pay(nsvc, created)
    ours = status(nclient, api_key, created["id"])
    documented = example("virtexgate/status_response.json")
    conforms(documented, ours)
    literals(documented, ours, "status", "payment.status", "payment.confirmations")
    assert ISO_SECONDS.match(ours["expiresAt"]) and ours["payment"]["amountPaid"] == ours["payment"]["amountDue"]
    assert ours["overpaid"] is False  # ours


def _verified(received: Any, secret: str) -> dict[str, Any]:
    """As the document's receiver would: X-Signature over the raw body, then the JSON."""
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, received.header("X-Signature") or "")
    payload: dict[str, Any] = parse(received.body)
    assert received.header("X-Webhook-Event") == payload["event"]
    assert received.header("X-Invoice-Id") == payload["invoiceId"]
    return payload


def _fulfilled(payloads: list[dict[str, Any]]) -> list[str]:
    """The document's Express handler: `if (event === 'invoice.paid') fulfillOrder(externalOrderId)`."""
    return [p["externalOrderId"] for p in payloads if p["event"] == "invoice.paid"]


def test_the_webhook_payload_headers_and_handler(napp, nclient, nsvc, shop, receiver, dispatcher) -> None:
    api_key, secret = setup_store(napp, shop.id, receiver.url(HOOK))
    created = parse(create(nclient, api_key, document_body(shop.id)).data)
    pay(nsvc, created)
    dispatcher.run_until_idle(timeout=20)
    payloads = [_verified(r, secret) for r in receiver.wait_for(2, HOOK)]
    paid = next(p for p in payloads if p["event"] == "invoice.paid")
    documented = example("virtexgate/webhook.json")
    conforms(documented, paid)
    literals(documented, paid, "event", "status", "amount", "fiatCurrency", "externalOrderId")
    assert paid["invoiceId"] == created["id"] and paid["storeId"] == str(shop.id)
    assert ISO_SECONDS.match(paid["createdAt"]) and ISO_SECONDS.match(paid["paidAt"])
    assert _fulfilled(payloads) == ["order-42"]


def test_an_overpaid_invoice_is_paid_and_fulfilled(napp, nclient, nsvc, shop, receiver, dispatcher) -> None:
    api_key, secret = setup_store(napp, shop.id, receiver.url(HOOK))
    created = parse(create(nclient, api_key, document_body(shop.id)).data)
    pay(nsvc, created, Decimal("30"))
    dispatcher.run_until_idle(timeout=20)
    payloads = [_verified(r, secret) for r in receiver.wait_for(3, HOOK)]
    assert [(p["event"], p["status"], p["overpaid"]) for p in payloads] == [
        ("invoice.processing", "Processing", True), ("invoice.paid", "Paid", True), ("invoice.overpaid", "Paid", True)]
    assert _fulfilled(payloads) == ["order-42"]
    final = status(nclient, api_key, created["id"])
    assert (final["status"], final["overpaid"], final["payment"]["amountPaid"]) == ("Paid", True, Decimal("30"))


def test_a_part_paid_invoice_that_closes_sends_invoice_expired_after_underpaid(napp, nclient, nsvc, shop, receiver,
                                                                              dispatcher, clock) -> None:
    api_key, secret = setup_store(napp, shop.id, receiver.url(HOOK))
    created = parse(create(nclient, api_key, document_body(shop.id)).data)
    pay(nsvc, created, Decimal("10"))
    clock.advance(hours=25)
    tick(nsvc)
    dispatcher.run_until_idle(timeout=20)
    payloads = [_verified(r, secret) for r in receiver.wait_for(2, HOOK)]
    assert [(p["event"], p["status"]) for p in payloads] == [("invoice.underpaid", "Underpaid"),
                                                            ("invoice.expired", "Expired")]
    assert _fulfilled(payloads) == []


def test_the_error_reference_status_codes(napp, nclient, nsvc, shop, receiver, clock) -> None:
    api_key, _ = setup_store(napp, shop.id, receiver.url(HOOK))

    def error(response: Any, code: int) -> dict[str, Any]:
        assert response.status_code == code, response.data
        body: dict[str, Any] = parse(response.data)
        assert isinstance(body["error"], str) and body["error"]
        return body

    assert set(error(create(nclient, api_key, b'{"storeId": '), 400)) == {"error"}  # malformed JSON
    error(create(nclient, "vgk_nope", document_body(shop.id)), 401)
    error(create(nclient, api_key, document_body(shop.id + 1000)), 403)
    error(nclient.get(f"{INVOICES}/{uuid.uuid4()}", headers={"X-Api-Key": api_key}), 404)
    error(create(nclient, api_key, document_body(shop.id, **{"25.00": b"0.001"})), 422)  # "Amount too small"
    missing = json.dumps({"storeId": str(shop.id), "fiatCurrency": "USD"}).encode()
    error(create(nclient, api_key, missing), 422)  # "missing field"
    with nsvc.uow() as uow:
        set_rate_limit(uow, shop.id, "virtexgate", 1, clock)
    limited = error(create(nclient, api_key, document_body(shop.id)), 429)
    assert set(limited) == {"error", "status", "timestamp"} and limited["status"] == 429  # { error, status, timestamp }
