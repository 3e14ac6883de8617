# ruff: noqa: F811 - pytest fixtures are imported from the support modules and used as arguments
"""Issue 14, points 2, 4 and 10: every finding of the attack review, replayed against every contract it touched.

Bodies are sent as JSON text a client could write: `\\ud800` escapes (a lone surrogate is valid JSON), numbers
such as 1e999999999 written as they are. Each refusal is checked to have written nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from gateway_core.adapters.models import Base, Delivery, Invoice
from gateway_core.bootstrap import Services
from gateway_core.keys.api_keys import issue_key
from gateway_core.payments.sandbox import simulate_payment
from tests.client_json import client_json
from tests.conftest import invoice_body, tick
from tests.integration.veltpay_support import (  # noqa: F401 - fixtures
    tron_account,
    vapp,
    velt,
    velt_store,
    vsettings,
    vsvc,
)

CREATE = "/api/plugin/invoice/create"
INITIATE = "/api/dynamic-payment/initiate"
VIRTEXGATE = "/api/invoices"
VENTA = "/v1/checkout"
ORDERS = "/v1/orders"
# A signed VeltPay request is spent even when it is then refused (its own transaction, by design).
NOT_COUNTED = {"veltpay_signatures"}


def as_json(body: Any) -> str:
    """JSON as a client writes it: surrogates as \\u escapes, Decimals as written."""
    return body if isinstance(body, str) else client_json(body)


def send(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, data=as_json(body), content_type="application/json", headers=headers)


def row_counts(svc: Services) -> dict[str, int]:
    """Rows in every table (one round trip), to prove a refusal wrote nothing."""
    names = [t.name for t in Base.metadata.sorted_tables if t.name not in NOT_COUNTED]
    with svc.uow() as uow:
        row = uow.session.execute(text("SELECT " + ", ".join(f"(SELECT count(*) FROM {n})" for n in names))).one()
    return dict(zip(names, (int(n) for n in row), strict=True))


def key_for(svc: Services, store_id: int, kind: str) -> str:
    with svc.uow() as uow:
        return issue_key(uow, svc.vault, store_id, kind).api_key


@pytest.fixture
def keys(services, store) -> dict[str, str]:
    return {"voltxt": store.api_key, "virtexgate": key_for(services, store.id, "virtexgate"),
            "venta": key_for(services, store.id, "venta")}


def voltxt(client: Any, key: str, path: str = CREATE, **fields: Any) -> Any:
    return send(client, path, invoice_body(key, **fields))


def virtexgate(client: Any, key: str, store_id: int, **fields: Any) -> Any:
    body = {"storeId": str(store_id), "amount": Decimal("25.00"), "fiatCurrency": "USD", **fields}
    return send(client, VIRTEXGATE, {k: v for k, v in body.items() if v is not None}, **{"X-Api-Key": key})


def venta(client: Any, key: str, **fields: Any) -> Any:
    return send(client, VENTA, {"amount": "12.50", "currency": "USD", **fields}, **{"x-api-key": key})


def voltxt_refused(response: Any, field: str, status: int = 422, code: str = "VALIDATION_ERROR") -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False and body["error_code"] == code
    if field:
        assert field in body.get("errors", {}), body
        return str(body["errors"][field])
    return str(body["message"])


# -- lone surrogates, NUL and other text that cannot be stored (point 2) --------------------------------------


def test_a_surrogate_in_a_virtexgate_order_id_is_refused_in_its_format_and_writes_nothing(
        client, services, store, keys) -> None:
    before = row_counts(services)
    response = virtexgate(client, keys["virtexgate"], store.id, externalOrderId="vg\ud800x")
    assert response.status_code == 400 and set(response.get_json()) == {"error"}
    assert "externalOrderId" in response.get_json()["error"]
    assert row_counts(services) == before


@pytest.mark.parametrize("metadata", [{"k": "\ud800"}, {"\udfff": 1}, {"a": [{"b": "x\x00y"}]}])
def test_voltxt_metadata_that_cannot_be_stored_is_422_naming_the_field(client, services, store, metadata) -> None:
    before = row_counts(services)
    for path in (CREATE, INITIATE):
        message = voltxt_refused(voltxt(client, store.api_key, path, metadata=metadata), "")
        assert message == "Request validation failed"
    assert row_counts(services) == before


def test_veltpay_metadata_with_a_surrogate_is_refused_and_writes_nothing(velt, vsvc) -> None:
    before = row_counts(vsvc)
    response = velt.send("POST", ORDERS, as_json({"order_ref": "r-1", "amount": "10.00", "metadata": {"k": "\ud800"}}))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"
    assert "metadata.k" in response.get_json()["error"]["fields"]
    assert row_counts(vsvc) == before


@pytest.mark.parametrize("field", ["description", "customer_name", "external_invoice_id", "platform"])
def test_nul_bytes_are_refused_in_every_text_field(client, services, store, field) -> None:
    before = row_counts(services)
    voltxt_refused(voltxt(client, store.api_key, **{field: "bad\x00text"}), field)
    assert row_counts(services) == before


def test_nul_bytes_in_other_contracts_and_in_urls(client, services, store, keys) -> None:
    before = row_counts(services)
    assert virtexgate(client, keys["virtexgate"], store.id, externalOrderId="a\x00b").status_code == 400
    response = venta(client, keys["venta"], message="pay\x00me")
    assert response.status_code == 422 and response.get_json()["code"] == "VALIDATION_ERROR"
    assert row_counts(services) == before
    # Path parts with NUL name nothing (404); a query parameter with NUL is refused naming it.
    found = client.get(f"/api/plugin/invoice/by-external-id/a%00b?api_key={store.api_key}")
    assert voltxt_refused(found, "", 404, "NOT_FOUND")
    status = client.get(f"/api/plugin/invoice/N1/status?api_key={store.api_key}&network=dev%00net")
    voltxt_refused(status, "network")


def test_a_blank_external_invoice_id_is_refused_not_stored_empty(client, services, store) -> None:
    before = row_counts(services)
    assert "blank" in voltxt_refused(voltxt(client, store.api_key, external_invoice_id="   "), "external_invoice_id")
    assert row_counts(services) == before


def test_text_is_stored_normalised_and_stripped(client, services, store) -> None:
    response = voltxt(client, store.api_key, description="  Cafe\u0301 cre\u0300me  ", customer_name=" Zoe\u0308 ")
    assert response.status_code == 201, response.get_json()
    invoice = response.get_json()["invoice"]
    assert invoice["description"] == "Caf\u00e9 cr\u00e8me" and invoice["customer_name"] == "Zo\u00eb"


# -- data stored before the door was checked is still served and still sent ------------------------------------


def stored_surrogate(svc: Services, number: str) -> None:
    """Metadata as an earlier version stored it: valid JSON text whose string is a lone surrogate."""
    with svc.uow() as uow:
        uow.session.execute(text("UPDATE invoices SET metadata = :m WHERE number = :n"),
                            {"m": '{"k":"\\ud800"}', "n": number})


def test_lookups_and_webhooks_of_invoices_stored_with_surrogates_no_longer_fail(client, services, store) -> None:
    created = voltxt(client, store.api_key, external_invoice_id="legacy-1")
    number = created.get_json()["invoice_number"]
    stored_surrogate(services, number)
    found = client.get(f"/api/plugin/invoice/by-external-id/legacy-1?api_key={store.api_key}")
    assert found.status_code == 200 and found.get_json()["invoice"]["metadata"] == {"k": "\ufffd"}
    with services.uow() as uow:
        uow.session.execute(text("UPDATE stores SET webhook_url = 'https://shop.test/hook' WHERE id = :s"),
                            {"s": store.id})
    with services.uow() as uow:
        simulate_payment(uow, number, services.clock)
    tick(services)
    with services.uow() as uow:
        assert uow.session.execute(select(Invoice.status).where(Invoice.number == number)).scalar_one() == "settled"
        bodies = uow.session.execute(select(Delivery.body).where(Delivery.channel == "store")).scalars().all()
    assert bodies and all('"k":"\ufffd"' in body for body in bodies)


def test_veltpay_lists_orders_stored_with_surrogates(velt, vsvc) -> None:
    created = velt.send("POST", ORDERS, as_json({"order_ref": "r-legacy", "amount": "10.00", "metadata": {"k": "v"}}))
    assert created.status_code == 201, created.get_json()
    with vsvc.uow() as uow:
        number = uow.session.execute(select(Invoice.number)).scalar_one()
    stored_surrogate(vsvc, number)
    listed = velt.get(ORDERS)
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert listed.get_json()["data"][0]["metadata"] == {"k": "\ufffd"}


# -- metadata bounds, deep JSON -----------------------------------------------------------------------------


def nested(levels: int) -> dict:
    node: dict = {"leaf": "x"}
    for _ in range(levels - 1):
        node = {"k": node}
    return node


def test_metadata_is_limited_in_depth_size_and_keys(client, services, store) -> None:
    assert voltxt(client, store.api_key, metadata=nested(5), external_invoice_id="deep-5").status_code == 201
    before = row_counts(services)
    assert "nest" in voltxt_refused(voltxt(client, store.api_key, metadata=nested(6)), "metadata")
    assert "bytes" in voltxt_refused(voltxt(client, store.api_key, metadata={"k": "x" * 9000}), "metadata")
    many = {f"k{n}": n for n in range(101)}
    assert "keys" in voltxt_refused(voltxt(client, store.api_key, metadata=many), "metadata")
    assert row_counts(services) == before


@pytest.mark.parametrize("levels", [40, 20_000])
def test_deeply_nested_bodies_are_a_clean_4xx(client, services, store, keys, levels) -> None:
    deep = "[" * levels + "]" * levels  # 20,000 levels in 40 kB: under the body limit, past the recursion limit
    before = row_counts(services)
    body = as_json(invoice_body(store.api_key))[:-1] + ',"metadata":{"k":' + deep + "}}"
    response = client.post(CREATE, data=body, content_type="application/json")
    assert response.status_code in (400, 422) and response.get_json()["success"] is False
    vg = client.post(VIRTEXGATE, data='{"storeId":"1","amount":5,"x":' + deep + "}",
                     content_type="application/json", headers={"X-Api-Key": keys["virtexgate"]})
    assert vg.status_code == 400 and set(vg.get_json()) == {"error"}
    assert row_counts(services) == before


# -- strict amounts, overflowing numbers (point 4) ---------------------------------------------------------


LENIENT = ["1_000", "\u0661\u0662\u0663", "+5", "5e2", "-5", " 5", "1e999999999"]


@pytest.mark.parametrize("amount", [*LENIENT, Decimal("1E+999999999"), Decimal("-1E+999999999")])
def test_voltxt_create_and_session_amounts_are_strict(client, services, store, amount) -> None:
    before = row_counts(services)
    voltxt_refused(voltxt(client, store.api_key, amount=amount), "amount")
    voltxt_refused(voltxt(client, store.api_key, INITIATE, amount=amount), "amount")
    assert row_counts(services) == before


@pytest.mark.parametrize("amount", [*LENIENT, Decimal("1E+999999999")])
def test_update_amount_is_strict(client, services, store, amount) -> None:
    created = voltxt(client, store.api_key, INITIATE, external_invoice_id=None, external_payment_id="sess-1")
    session_id = created.get_json()["session_id"]
    before = row_counts(services)
    response = send(client, f"/api/dynamic-payment/{session_id}/update-amount",
                    {"api_key": store.api_key, "amount": amount})
    voltxt_refused(response, "amount")
    assert row_counts(services) == before


@pytest.mark.parametrize("amount", [*LENIENT, Decimal("1E+999999999")])
def test_virtexgate_and_venta_amounts_are_strict(client, services, store, keys, amount) -> None:
    before = row_counts(services)
    vg = virtexgate(client, keys["virtexgate"], store.id, amount=amount)
    assert vg.status_code in (400, 422) and "amount" in vg.get_json()["error"]
    response = venta(client, keys["venta"], amount=amount)
    assert response.status_code == 422 and response.get_json()["code"] == "VALIDATION_ERROR"
    assert "amount" in response.get_json()["details"]
    assert row_counts(services) == before


@pytest.mark.parametrize("amount", [*LENIENT, "1" * 40])
def test_veltpay_amounts_are_strict(velt, vsvc, amount) -> None:
    before = row_counts(vsvc)
    response = velt.send("POST", ORDERS, as_json({"order_ref": "r-2", "amount": amount}))
    assert response.status_code == 422 and "amount" in response.get_json()["error"]["fields"]
    assert row_counts(vsvc) == before


def test_a_json_number_beyond_every_bound_is_422_on_veltpay(velt, vsvc) -> None:
    response = velt.send("POST", ORDERS, '{"order_ref":"r-3","amount":1e999999999}')
    assert response.status_code == 422 and "amount" in response.get_json()["error"]["fields"]


def test_overflowing_pages_and_ids_are_4xx(client, store) -> None:
    for page in (Decimal("1E+30"), "1" * 23, 10**30, "\u0663"):
        response = send(client, "/api/plugin/webhook/deliveries", {"api_key": store.api_key, "page": page})
        voltxt_refused(response, "page")
    response = send(client, "/api/plugin/webhook/deliveries", {"api_key": store.api_key, "per_page": 1e30})
    voltxt_refused(response, "per_page")
    redeliver = send(client, f"/api/plugin/webhook/deliveries/{'9' * 23}/redeliver", {"api_key": store.api_key})
    assert redeliver.status_code == 404 and redeliver.get_json()["success"] is False


def test_overflowing_paging_on_veltpay_is_422(velt) -> None:
    response = velt.get(f"{ORDERS}?limit=10&offset={'9' * 30}")
    assert response.status_code == 422 and "offset" in response.get_json()["error"]["fields"]
