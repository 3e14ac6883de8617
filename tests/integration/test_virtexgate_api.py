"""VirtexGate contract, issue 8 points 1-3: create and status, Idempotency-Key, errors and statuses.

Requests are written as the spec's examples write them (its curl: X-Api-Key, Content-Type, the JSON body with
`"amount": 25.00`), and responses are read as a plugin would read them, not through our own renderers.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway_core.adapters.jsonwire import loads
from gateway_core.adapters.models import Invoice, Quote, VirtexgateIdempotencyKey
from gateway_core.domain.errors import RateUnavailable
from gateway_core.keys.api_keys import issue_key, rotate_key
from gateway_core.keys.key_limits import set_rate_limit
from gateway_core.stores.manage import create_store
from tests.client_json import client_json
from tests.conftest import invoice_body, post_json, running_app, tick

CREATE = "/api/invoices"
SPEC_BODY = """{
"storeId": "YOUR_STORE_ID",
"amount": 25.00,
"fiatCurrency": "USD",
"externalOrderId": "order-42",
"redirectUrl": "https://myshop.com/thank-you"
}"""  # the spec's curl example, verbatim
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def vg_key(services: Any, store_id: int) -> str:
    with services.uow() as uow:
        return issue_key(uow, services.vault, store_id, "virtexgate").api_key


@pytest.fixture
def key(services, store) -> str:
    return vg_key(services, store.id)


def post(client: Any, key: str | None, body: Any, idempotency_key: str | None = None) -> Any:
    headers = {} if key is None else {"X-Api-Key": key}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    data = body if isinstance(body, str) else client_json(body)
    return client.post(CREATE, data=data, headers=headers, content_type="application/json")


def body_for(store_id: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"storeId": str(store_id), "amount": Decimal("25.00"), "fiatCurrency": "USD",
                            "externalOrderId": "order-42", "redirectUrl": "https://myshop.com/thank-you"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def read(response: Any) -> Any:
    return loads(response.data)


def invoices(services: Any) -> list[Invoice]:
    with services.uow() as uow:
        return list(uow.session.execute(select(Invoice).order_by(Invoice.id)).scalars())


def the_error(response: Any, status: int) -> str:
    """Every error is {"error": "..."} with the spec's status code."""
    assert response.status_code == status, response.data
    body = read(response)
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return str(body["error"])


# -- 1. create and status ---------------------------------------------------------------------------------


def test_the_spec_curl_creates_an_invoice_and_returns_id_checkout_url_and_expiry(client, store, key, services):
    response = client.post(CREATE, data=SPEC_BODY.replace("YOUR_STORE_ID", str(store.id)),
                           headers={"X-Api-Key": key, "Content-Type": "application/json"})
    assert response.status_code == 201, response.data
    body = read(response)
    assert set(body) == {"id", "checkoutUrl", "expiresAt"}
    assert UUID.match(body["id"])
    (invoice,) = invoices(services)
    assert body["checkoutUrl"] == f"https://gateway.test/pay/{invoice.number}"
    assert body["expiresAt"] == "2026-01-16T12:00:00Z"  # the store's default 24 hours, in the spec's format
    assert invoice.contract == "virtexgate" and invoice.external_id == f"virtexgate:{body['id']}"
    assert (invoice.fiat_currency, invoice.fiat_minor) == ("USD", 2500)
    assert invoice.success_url == "https://myshop.com/thank-you"
    assert invoice.extra == {"externalOrderId": "order-42"}
    assert client.get(f"/pay/{invoice.number}").status_code == 200  # the hosted checkout page


def test_amounts_as_numbers_or_strings_are_exact(client, store, key, services):
    for amount in (Decimal("19.99"), "19.99", 20, "0.3"):
        assert post(client, key, body_for(store.id, amount=amount)).status_code == 201
    assert [i.fiat_minor for i in invoices(services)] == [1999, 1999, 2000, 30]
    assert post(client, key, body_for(store.id, amount="1.005")).status_code == 400  # beyond the cent: not rounded


def test_without_an_external_order_id_or_currency_the_invoice_is_in_usd(client, store, key, services):
    response = post(client, key, {"storeId": store.id, "amount": 5})
    assert response.status_code == 201
    (invoice,) = invoices(services)
    assert invoice.fiat_currency == "USD" and invoice.extra is None and invoice.success_url is None


def test_each_create_without_idempotency_key_is_a_new_invoice(client, store, key, services):
    first = read(post(client, key, body_for(store.id)))
    second = read(post(client, key, body_for(store.id)))
    assert first["id"] != second["id"] and len(invoices(services)) == 2


def test_status_shape_of_a_new_invoice_then_waiting_once_a_coin_is_chosen(client, store, key, services, clock):
    created = read(post(client, key, body_for(store.id)))
    clock.advance(seconds=57)
    response = client.get(f"{CREATE}/{created['id']}", headers={"X-Api-Key": key})
    assert response.status_code == 200
    status = read(response)
    with services.uow() as uow:
        sol = uow.session.execute(select(Quote).where(Quote.asset == "SOL")).scalar_one()
    assert status == {
        "status": "New", "expiresAt": created["expiresAt"], "secondsRemaining": 24 * 3600 - 57, "overpaid": False,
        "payment": {"coinType": "SOL", "amountDue": Decimal("0.166666667"), "amountPaid": 0, "status": "Pending",
                    "txId": None, "confirmations": 0, "requiredConfirmations": 32, "address": sol.address},
    }
    number = created["checkoutUrl"].rsplit("/", 1)[1]
    assert post_json(client, f"/pay/{number}/asset", {"asset": "USDC"}).status_code == 200
    status = read(client.get(f"{CREATE}/{created['id']}", headers={"X-Api-Key": key}))
    assert status["status"] == "Waiting" and status["payment"]["status"] == "Pending"
    assert status["payment"]["coinType"] == "USDC" and status["payment"]["amountDue"] == Decimal("25")


def test_status_ids_are_accepted_in_upper_case(client, store, key):
    created = read(post(client, key, body_for(store.id)))
    response = client.get(f"{CREATE}/{created['id'].upper()}", headers={"X-Api-Key": key})
    assert response.status_code == 200 and read(response)["status"] == "New"


# -- statuses through the lifecycle (the mapping the OpenAPI document and README list) ----------------------


def _status(client: Any, key: str, invoice_id: str) -> tuple[str, str]:
    body = read(client.get(f"{CREATE}/{invoice_id}", headers={"X-Api-Key": key}))
    return body["status"], body["payment"]["status"]


def _pay(services: Any, number: str, amount: Decimal | None = None) -> None:
    from gateway_core.payments.sandbox import simulate_payment

    with services.uow() as uow:
        simulate_payment(uow, number, services.clock, "USDC", amount)
    tick(services)


@pytest.mark.parametrize(("paid", "expected"), [
    (None, [("Processing", "Detected"), ("Paid", "Confirmed")]),
    (Decimal("30"), [("Processing", "Detected"), ("Paid", "Confirmed")]),  # Paid: fulfil (overpaid: true)
    (Decimal("10"), [("Underpaid", "Detected"), ("Underpaid", "Detected")]),
])
def test_invoice_and_payment_statuses_follow_the_lifecycle(client, store, key, services, clock, paid, expected):
    services.chains["sandbox"]._finality = 30  # seen now, final 30 seconds later
    created = read(post(client, key, body_for(store.id)))
    number = created["checkoutUrl"].rsplit("/", 1)[1]
    _pay(services, number, paid)
    seen = [_status(client, key, created["id"])]
    body = read(client.get(f"{CREATE}/{created['id']}", headers={"X-Api-Key": key}))
    assert body["payment"]["txId"] and body["payment"]["amountPaid"] == (paid or Decimal("25"))
    assert body["payment"]["confirmations"] == 1 and body["payment"]["requiredConfirmations"] == 32
    clock.advance(seconds=30)
    tick(services)
    seen.append(_status(client, key, created["id"]))
    assert seen == expected
    body = read(client.get(f"{CREATE}/{created['id']}", headers={"X-Api-Key": key}))
    assert body["payment"]["confirmations"] == 32
    assert body["secondsRemaining"] == (24 * 3600 - 30 if paid == Decimal("10") else 0)


def test_closed_windows_are_expired_or_underpaid(client, store, key, services, clock):
    unpaid = read(post(client, key, body_for(store.id)))
    part = read(post(client, key, body_for(store.id)))
    _pay(services, part["checkoutUrl"].rsplit("/", 1)[1], Decimal("5"))
    clock.advance(hours=24)
    # Before the expiry job runs the window is already shown closed; after it, the same.
    assert _status(client, key, unpaid["id"]) == ("Expired", "Expired")
    tick(services)
    assert _status(client, key, unpaid["id"]) == ("Expired", "Expired")
    assert _status(client, key, part["id"]) == ("Expired", "Expired")  # closed part-paid: invoice.expired
    assert read(client.get(f"{CREATE}/{unpaid['id']}", headers={"X-Api-Key": key}))["secondsRemaining"] == 0


# -- 2. Idempotency-Key ------------------------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_201(client, store, key, services):
    idem = "550e8400-e29b-41d4-a716-446655440000"
    first = post(client, key, body_for(store.id), idem)
    again = post(client, key, body_for(store.id), idem)
    assert first.status_code == again.status_code == 201
    assert again.data == first.data and again.headers["Idempotent-Replayed"] == "true"
    # The same JSON spelled differently (key order, spacing) is the same body.
    reordered = ('{"redirectUrl":"https://myshop.com/thank-you","externalOrderId":"order-42","fiatCurrency":"USD",'
                 '"amount":25.00,   "storeId":"STORE"}').replace("STORE", str(store.id))
    assert post(client, key, reordered, idem).data == first.data
    assert len(invoices(services)) == 1


def test_same_key_with_another_body_is_409(client, store, key, services):
    idem = "order-42-attempt"
    assert post(client, key, body_for(store.id), idem).status_code == 201
    assert "Idempotency-Key" in the_error(post(client, key, body_for(store.id, amount="26.00"), idem), 409)
    assert len(invoices(services)) == 1


def test_keys_are_kept_24_hours(client, store, key, services, clock):
    idem = "kept-a-day"
    first = read(post(client, key, body_for(store.id), idem))
    clock.advance(hours=23, minutes=59)
    assert read(post(client, key, body_for(store.id), idem)) == first
    clock.advance(minutes=1)
    later = post(client, key, body_for(store.id, amount="26.00"), idem)  # a new request, not a conflict
    assert later.status_code == 201 and read(later)["id"] != first["id"]
    with services.uow() as uow:  # the expired record made way for the new one
        rows = uow.session.execute(select(VirtexgateIdempotencyKey)).scalars().all()
    assert len(rows) == 1 and rows[0].created_at == clock.now()


def test_keys_are_scoped_to_the_api_key(client, store, key, services):
    other_key = vg_key(services, store.id)  # a second key of the same store
    idem = "shared-value"
    first = read(post(client, key, body_for(store.id), idem))
    second = read(post(client, other_key, body_for(store.id), idem))
    assert first["id"] != second["id"]
    assert post(client, other_key, body_for(store.id, amount=1), idem).status_code == 409
    assert len(invoices(services)) == 2


def test_a_failed_request_does_not_use_up_the_key(client, store, key, services):
    idem = "retry-after-fixing"
    the_error(post(client, key, body_for(store.id, amount=None), idem), 422)
    assert post(client, key, body_for(store.id), idem).status_code == 201


def test_concurrent_identical_requests_create_one_invoice(app, store, key, services):
    idem = str(uuid.uuid4())

    def attempt(_: int) -> tuple[int, bytes]:
        response = post(app.test_client(), key, body_for(store.id), idem)
        return response.status_code, response.data

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert {code for code, _ in results} == {201}, results
    assert len({data for _, data in results}) == 1
    with services.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(Invoice)).scalar_one() == 1


def test_an_unusable_idempotency_key_is_400(client, store, key):
    the_error(post(client, key, body_for(store.id), "x" * 256), 400)
    the_error(post(client, key, body_for(store.id), ""), 400)


# -- 3. errors -------------------------------------------------------------------------------------------


def test_missing_or_invalid_api_key_is_401(client, store, key, services):
    assert "X-Api-Key" in the_error(post(client, None, body_for(store.id)), 401)
    the_error(post(client, "vgk_" + "A" * 43, body_for(store.id)), 401)
    the_error(post(client, store.api_key, body_for(store.id)), 401)  # the store's VOLTXT key is not a VirtexGate key
    the_error(client.get(f"{CREATE}/{uuid.uuid4()}"), 401)
    with services.uow() as uow:
        newer = rotate_key(uow, services.vault, store.id, services.clock, timedelta(0), "virtexgate").api_key
    the_error(post(client, key, body_for(store.id)), 401)  # rotated away with no grace
    assert post(client, newer, body_for(store.id)).status_code == 201


def test_a_key_for_another_store_is_403(client, store, key, services):
    with services.uow() as uow:
        other = create_store(uow, services.vault, name="Other Shop", network="sandbox")
    assert "not permitted" in the_error(post(client, key, body_for(other.id)), 403)
    the_error(post(client, key, body_for(987654)), 403)  # no such store: the same answer, nothing leaks
    assert invoices(services) == []


def test_another_stores_invoice_is_not_found(client, store, key, services):
    created = read(post(client, key, body_for(store.id)))
    with services.uow() as uow:
        other = create_store(uow, services.vault, name="Other Shop", network="sandbox")
    other_key = vg_key(services, other.id)
    the_error(client.get(f"{CREATE}/{created['id']}", headers={"X-Api-Key": other_key}), 404)
    the_error(client.get(f"{CREATE}/{uuid.uuid4()}", headers={"X-Api-Key": key}), 404)
    the_error(client.get(f"{CREATE}/not-a-uuid", headers={"X-Api-Key": key}), 404)


def test_a_voltxt_invoice_is_not_a_virtexgate_invoice(client, store, key):
    fake_id = str(uuid.uuid4())
    voltxt = post_json(client, "/api/plugin/invoice/create",
                       invoice_body(store.api_key, external_invoice_id=f"virtexgate:{fake_id}"))
    assert voltxt.status_code == 201
    the_error(client.get(f"{CREATE}/{fake_id}", headers={"X-Api-Key": key}), 404)


@pytest.mark.parametrize(("body", "status", "mentions"), [
    ("{not json", 400, "JSON"),
    ("[1, 2]", 400, "object"),
    ({"storeId": "{store}", "amount": "lots"}, 400, "amount"),
    ({"storeId": "{store}", "amount": True}, 400, "amount"),
    ({"storeId": "{store}", "amount": 5, "fiatCurrency": "XYZ"}, 400, "fiatCurrency"),
    ({"storeId": "{store}", "amount": 5, "redirectUrl": "javascript:alert(1)"}, 400, "redirectUrl"),
    ({"storeId": "{store}", "amount": 5, "externalOrderId": {"id": 1}}, 400, "externalOrderId"),
    ({"storeId": ["{store}"], "amount": 5}, 400, "storeId"),
    ({"amount": 5}, 422, "storeId"),
    ({"storeId": "{store}"}, 422, "amount"),
    ({"storeId": "{store}", "amount": 0}, 422, "amount"),
    ({"storeId": "{store}", "amount": -3}, 422, "amount"),  # the string "-3" is malformed (400), issue 14
    ({"storeId": "{store}", "amount": 2_000_000}, 422, "maximum"),
])
def test_bad_requests_get_the_spec_status_and_error_shape(client, store, key, services, body, status, mentions):
    if isinstance(body, dict):
        body = {k: ([store.id] if v == ["{store}"] else str(store.id) if v == "{store}" else v)
                for k, v in body.items()}
    assert mentions in the_error(post(client, key, body), status)
    assert invoices(services) == []


def test_unknown_paths_and_methods_answer_in_the_contracts_format(client, key):
    the_error(client.get(f"{CREATE}/{uuid.uuid4()}/refunds", headers={"X-Api-Key": key}), 404)


def test_rate_limit_is_429_with_error_status_and_timestamp(client, store, key, services, clock):
    with services.uow() as uow:
        set_rate_limit(uow, store.id, "virtexgate", 2, clock)
    assert post(client, key, body_for(store.id)).status_code == 201
    assert client.get(f"{CREATE}/{uuid.uuid4()}", headers={"X-Api-Key": key}).status_code == 404  # counts too
    limited = post(client, key, body_for(store.id))
    assert limited.status_code == 429
    body = read(limited)
    assert set(body) == {"error", "status", "timestamp"} and body["status"] == 429
    assert body["timestamp"] == "2026-01-15T12:00:00Z" and int(limited.headers["Retry-After"]) == 60
    assert len(invoices(services)) == 1
    clock.advance(seconds=60)
    assert post(client, key, body_for(store.id)).status_code == 201


class _BrokenRates:
    def rate(self, asset: str, currency: str) -> Decimal:
        if asset == "SOL":
            raise RuntimeError("rate table corrupted")
        raise RateUnavailable("no rate")


def test_an_unexpected_failure_is_500_without_details(settings, clock, services, store, key):
    with running_app(settings, clock) as plain:
        plain.extensions["voltbridge"].rates = _BrokenRates()
        response = post(plain.test_client(), key, body_for(store.id))
    assert the_error(response, 500) == "Server error occurred"


def test_the_openapi_document_describes_what_is_served(client):
    import yaml

    from gateway_core.contracts.virtexgate_statuses import INVOICE_STATUSES, PAYMENT_STATUSES, WEBHOOK_EVENTS

    served = client.get("/openapi/virtexgate.yaml")
    assert served.status_code == 200
    document = yaml.safe_load(served.get_data())
    assert set(document["paths"]) == {"/api/invoices", "/api/invoices/{id}"}
    schemas = document["components"]["schemas"]
    assert schemas["InvoiceStatusName"]["enum"] == list(INVOICE_STATUSES)
    assert schemas["PaymentStatusName"]["enum"] == list(PAYMENT_STATUSES)
    assert set(schemas["EventName"]["enum"]) == set(WEBHOOK_EVENTS.values())
    assert schemas["CreatedInvoice"]["required"] == ["id", "checkoutUrl", "expiresAt"]
    assert schemas["WebhookPayload"]["required"] == ["event", "invoiceId", "storeId", "status", "amount",
                                                     "fiatCurrency", "externalOrderId", "createdAt", "paidAt"]
