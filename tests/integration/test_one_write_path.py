"""Issue 17: every contract creates through the one write path, and (issue 14) a create that fails after
validation writes nothing.

For each contract's create endpoint, the rows it stores are exactly the rows create_invoice stores at a twin
store for the request that contract's parser reads from the same body: identities and random identifiers aside,
identical input gives identical rows whichever contract it came through.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from bridge.contracts.venta_wire import parse_checkout
from bridge.contracts.virtexgate_wire import parse_create
from bridge.contracts.voltxt_wire import parse_invoice_request
from bridge.jsonio import dumps
from gateway_core.adapters.models import Delivery, Event, Invoice, PlatformOrder, Quote
from gateway_core.bootstrap import Services
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.keys.api_keys import issue_key
from gateway_core.stores.manage import create_store, find_store

# Differ by construction between any two invoices: identities, random numbers, references and addresses.
PER_INVOICE = {"id", "number", "store_id", "invoice_id", "reference", "address", "event_id"}
BUYER = {"description": "Two mugs", "customer_email": "buyer@example.com", "customer_name": "Ann Buyer"}


def _rows(services: Services, invoice_id: int, ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The invoice's rows exactly as stored (a text query: no column type decodes anything)."""
    found = {}
    with services.uow() as uow:
        for table, column in (("invoices", "id"), ("quotes", "invoice_id"), ("events", "invoice_id")):
            rows = uow.session.execute(sa.text(f"SELECT * FROM {table} WHERE {column} = :v ORDER BY id"),
                                       {"v": invoice_id}).mappings().all()
            found[table] = [{k: v for k, v in row.items() if k not in PER_INVOICE | ignore} for row in rows]
    return found


def _only_invoice(services: Services, store_id: int) -> int:
    with services.uow() as uow:
        return int(uow.session.execute(sa.select(Invoice.id).where(Invoice.store_id == store_id)).scalar_one())


def _voltxt(kind: str) -> Callable[..., Any]:
    path = "/api/plugin/invoice/create" if kind == "invoice" else "/api/dynamic-payment/initiate"
    id_field = "external_invoice_id" if kind == "invoice" else "external_payment_id"

    def send(client: Any, services: Services, store: Any) -> tuple[Any, InvoiceRequest]:
        body = {"api_key": store.api_key, "platform": "opencart", id_field: "order-7", "amount": "42.50",
                "fiat_currency": "USD", "callback_url": "https://shop.example/callback",
                "success_url": "https://shop.example/ok?s=[session_id]", "metadata": {"cart": [1, 2]}, **BUYER}
        response = client.post(path, data=dumps(body), content_type="application/json")
        return response, parse_invoice_request(body, kind=kind)

    return send


def _virtexgate(client: Any, services: Services, store: Any) -> tuple[Any, InvoiceRequest]:
    with services.uow() as uow:
        key = issue_key(uow, services.vault, store.id, "virtexgate").api_key
    body = {"storeId": str(store.id), "amount": "42.50", "fiatCurrency": "USD", "externalOrderId": "order-7",
            "redirectUrl": "https://shop.example/ok", "buyerEmail": BUYER["customer_email"]}
    response = client.post("/api/invoices", data=dumps(body), content_type="application/json",
                           headers={"X-Api-Key": key})
    _invoice_id, request = parse_create(body)
    return response, request


def _venta(client: Any, services: Services, store: Any) -> tuple[Any, InvoiceRequest]:
    with services.uow() as uow:
        key = issue_key(uow, services.vault, store.id, "venta").api_key
    body = {"amount": "42.50", "currency": "USD", "token": "USDC", "orderId": "order-7", "message": "Two mugs"}
    response = client.post("/v1/checkout", data=dumps(body), content_type="application/json",
                           headers={"x-api-key": key})
    return response, parse_checkout(body).invoice


# Columns a contract's parser fills from per-request randomness (VirtexGate mints its invoice id as it parses).
CONTRACTS = {
    "voltxt": (_voltxt("invoice"), frozenset()),
    "dynamic": (_voltxt("dynamic"), frozenset()),
    "virtexgate": (_virtexgate, frozenset({"external_id", "metadata"})),
    "venta": (_venta, frozenset()),
}


@pytest.mark.parametrize("contract", sorted(CONTRACTS))
def test_each_contract_writes_what_the_one_path_writes_for_its_request(client, services, contract) -> None:
    send, random_columns = CONTRACTS[contract]
    with services.uow() as uow:
        served = create_store(uow, services.vault, name="Served", network="sandbox")
        twin = create_store(uow, services.vault, name="Twin", network="sandbox")
    response, request = send(client, services, served)
    assert response.status_code == 201, response.get_data(as_text=True)
    with services.uow() as uow:
        made = create_invoice(uow, find_store(uow, twin.id), request, services.invoicing)
    assert made.created
    through_contract = _rows(services, _only_invoice(services, served.id), random_columns)
    assert through_contract == _rows(services, made.invoice_id, random_columns)
    assert [e["type"] for e in through_contract["events"]] == ["invoice.created"]
    assert len(through_contract["quotes"]) == 3


def test_identical_requests_give_identical_rows_whatever_the_contract(services) -> None:
    """The same request under each contract's name: only the contract column differs."""
    by_contract = {}
    for contract in ("voltxt", "virtexgate", "veltpay", "venta", "woocommerce", "saleor", "shopify"):
        with services.uow() as uow:
            store = create_store(uow, services.vault, name=contract, network="sandbox")
        request = InvoiceRequest(amount=Decimal("42.50"), external_id="order-7", platform="custom",
                                 contract=contract, metadata={"cart": [1, 2]}, **BUYER)
        with services.uow() as uow:
            made = create_invoice(uow, find_store(uow, store.id), request, services.invoicing)
        by_contract[contract] = _rows(services, made.invoice_id, frozenset({"contract"}))
    first = by_contract["voltxt"]
    assert all(rows == first for rows in by_contract.values())


def _counts(services: Services) -> tuple[int, ...]:
    with services.uow() as uow:
        return tuple(int(uow.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())
                     for model in (Invoice, Quote, Event, Delivery, PlatformOrder))


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected failure")


# Every step of a VOLTXT create after validation, in order: allocation, the outbox, the answer's view, the
# answer's body. Each is made to fail in turn; nothing may be left behind.
STEPS = {
    "allocation": ("gateway_core.invoices.insert.allocate_addresses", "/api/plugin/invoice/create"),
    "outbox": ("gateway_core.invoices.insert.enqueue_for_event", "/api/plugin/invoice/create"),
    "view": ("gateway_core.invoices.insert.invoice_view", "/api/plugin/invoice/create"),
    "response": ("bridge.contracts.voltxt.invoice_body", "/api/plugin/invoice/create"),
    "session response": ("bridge.contracts.dynamic_payment.invoice_body", "/api/dynamic-payment/initiate"),
}


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_failure_after_validation_writes_nothing(client, services, store, monkeypatch, step) -> None:
    target, path = STEPS[step]
    monkeypatch.setattr(target, _boom)
    body = {"api_key": store.api_key, "platform": "opencart", "external_invoice_id": "order-9",
            "external_payment_id": "order-9", "amount": "42.50", "fiat_currency": "USD",
            "callback_url": "https://shop.example/callback"}
    try:
        response = client.post(path, data=dumps(body), content_type="application/json")
    except RuntimeError:  # the test app propagates unexpected errors instead of answering 500
        pass
    else:
        assert response.status_code == 500
    assert _counts(services) == (0, 0, 0, 0, 0)
    monkeypatch.undo()  # and the same request then succeeds whole
    response = client.post(path, data=dumps(body), content_type="application/json")
    assert response.status_code == 201
    assert _counts(services)[:3] == (1, 3, 1)
