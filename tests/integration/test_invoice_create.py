"""The one write path of a new invoice (gateway_core/invoices): the rows it writes, the keys it lets through
(cached or not), allocation as one of its steps, and what it does under concurrent requests."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from gateway_core.adapters.models import ApiKey, Event, Invoice, Quote, Store
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.domain.errors import DuplicateExternalId, InvalidApiKey, VaultInitializationFailed
from gateway_core.invoices.create import Created, create_invoice
from gateway_core.invoices.manage import InvoiceRequest, get_invoice
from gateway_core.keys.api_keys import Caller, key_digest, rotate_key
from gateway_core.payments.allocation import NewInvoice
from gateway_core.stores.manage import NewStore, create_store

# Differ by construction between any two invoices: identities, random numbers and addresses.
PER_INVOICE = {"id", "number", "store_id", "invoice_id", "reference", "address", "event_id", "external_id"}


def _request(external_id: str, amount: str = "42.50", **fields: Any) -> InvoiceRequest:
    return InvoiceRequest(amount=Decimal(amount), external_id=external_id, platform="woocommerce",
                          description="Two mugs", customer_email="buyer@example.com", customer_name="Ann",
                          success_url="https://shop.test/ok", metadata={"cart": [1, 2], "price": Decimal("9.90")},
                          **fields)


def _raw_rows(services: Services, table: str, column: str, value: int) -> list[dict[str, Any]]:
    """Rows exactly as stored: a text query, so no column type decodes anything."""
    with services.uow() as uow:
        rows = uow.session.execute(sa.text(f"SELECT * FROM {table} WHERE {column} = :v ORDER BY id"),
                                   {"v": value}).mappings().all()
    return [{k: v for k, v in row.items() if k not in PER_INVOICE} for row in rows]


def _invoice_id(services: Services, number: str) -> int:
    with services.uow() as uow:
        return int(uow.session.execute(sa.select(Invoice.id).where(Invoice.number == number)).scalar_one())


def _count(services: Services, model: type[Any]) -> int:
    with services.uow() as uow:
        return int(uow.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


def _shop(services: Services, name: str = "Shop") -> NewStore:
    with services.uow() as uow:
        return create_store(uow, services.vault, name=name, network="sandbox", email="owner@shop.test")


def _caller(services: Services, api_key: str) -> Caller:
    return services.key_cache.caller(services.uow, api_key, services.clock)


def _create(services: Services, caller: Caller, request: InvoiceRequest) -> Created:
    """As the VOLTXT create endpoint does: a cached caller, then one transaction."""
    with services.uow() as uow:
        return create_invoice(uow, caller.store, request, services.invoicing, key=caller)


def test_the_answer_is_the_view_of_what_was_stored(services: Services) -> None:
    shop = _shop(services)
    made = _create(services, _caller(services, shop.api_key), _request("order-2", amount="0.30", expiry_hours=2))
    with services.uow() as uow:
        stored = get_invoice(uow, uow.session.get(Store, shop.id), made.view.number, services.clock)
    assert made.created and made.view == stored
    assert made.invoice_id == _invoice_id(services, made.view.number)  # callers never look it up again


def test_a_cached_and_an_uncached_caller_store_the_same_bytes(services: Services) -> None:
    cached_shop, plain_shop = _shop(services, "Cached"), _shop(services, "Plain")
    cached = _create(services, _caller(services, cached_shop.api_key), _request("order-1"))
    with services.uow() as uow:
        plain = create_invoice(uow, uow.session.get(Store, plain_shop.id), _request("order-1"), services.invoicing)
    assert _raw_rows(services, "invoices", "id", cached.invoice_id) == _raw_rows(services, "invoices", "id",
                                                                                 plain.invoice_id)
    assert _raw_rows(services, "quotes", "invoice_id", cached.invoice_id) == _raw_rows(
        services, "quotes", "invoice_id", plain.invoice_id)
    events = _raw_rows(services, "events", "invoice_id", cached.invoice_id)
    assert [e["type"] for e in events] == ["invoice.created"]
    assert events == _raw_rows(services, "events", "invoice_id", plain.invoice_id)
    assert len(_raw_rows(services, "quotes", "invoice_id", cached.invoice_id)) == 3


def test_a_retry_returns_the_first_invoice_and_a_changed_one_conflicts(services: Services) -> None:
    caller = _caller(services, _shop(services).api_key)
    first = _create(services, caller, _request("order-3"))
    again = _create(services, caller, _request("order-3"))
    assert first.created and not again.created and again.view.number == first.view.number
    assert again.invoice_id == first.invoice_id
    with pytest.raises(DuplicateExternalId):
        _create(services, caller, _request("order-3", amount="43.00"))
    assert _count(services, Invoice) == 1 and _count(services, Quote) == 3 and _count(services, Event) == 1


def test_a_key_revoked_after_it_was_cached_creates_nothing(services: Services) -> None:
    shop = _shop(services)
    caller = _caller(services, shop.api_key)  # now cached for the web process
    with services.uow() as uow:
        uow.session.execute(sa.update(ApiKey).where(ApiKey.digest == key_digest(shop.api_key))
                            .values(expires_at=services.clock.now() - timedelta(seconds=1)))
    with pytest.raises(InvalidApiKey):
        _create(services, caller, _request("order-4"))
    with pytest.raises(InvalidApiKey):
        _caller(services, shop.api_key)  # and the cache no longer vouches for it
    assert _count(services, Invoice) == 0 and _count(services, Event) == 0


def test_a_rotated_key_stops_at_the_end_of_its_grace_even_from_the_cache(services: Services,
                                                                         clock: FrozenClock) -> None:
    shop = _shop(services)
    cached = _caller(services, shop.api_key)
    with services.uow() as uow:
        new_key = rotate_key(uow, services.vault, shop.id, clock, timedelta(hours=1))
    clock.advance(minutes=30)
    assert _create(services, _caller(services, shop.api_key), _request("in-grace")).created
    clock.advance(minutes=31)
    with pytest.raises(InvalidApiKey):
        _create(services, cached, _request("after-grace"))
    with pytest.raises(InvalidApiKey):
        _caller(services, shop.api_key)
    assert _create(services, _caller(services, new_key.api_key), _request("new-key")).created


def test_store_settings_reach_the_cache_within_its_lifetime(services: Services) -> None:
    shop = _shop(services)
    ticks = [0.0]
    services.key_cache._monotonic = lambda: ticks[0]  # the cache's own clock, moved by hand
    assert _caller(services, shop.api_key).store.default_expiry_hours == 24
    with services.uow() as uow:
        uow.session.execute(sa.update(Store).where(Store.id == shop.id).values(default_expiry_hours=3))
    ticks[0] = services.key_cache.seconds - 0.5
    assert _caller(services, shop.api_key).store.default_expiry_hours == 24  # still the cached copy
    ticks[0] = services.key_cache.seconds + 0.5
    assert _caller(services, shop.api_key).store.default_expiry_hours == 3


def test_allocation_is_a_step_of_the_same_path(services: Services) -> None:
    with services.uow() as uow:
        shop = create_store(uow, services.vault, name="Deposit", network="sandbox", settlement_mode="deposit")
    seen: list[NewInvoice] = []

    def allocate(session: Any, invoice: NewInvoice) -> None:
        seen.append(invoice)
        for quote in invoice.quotes:
            quote["address"] = f"allocated-{quote['asset']}"

    services.allocators["sandbox"] = allocate
    try:
        caller = _caller(services, shop.api_key)
        made = _create(services, caller, _request("order-5"))
        again = _create(services, caller, _request("order-5"))  # a retry allocates nothing
    finally:
        del services.allocators["sandbox"]
    assert made.created and not again.created
    assert [(n.id, n.number, n.settlement_mode) for n in seen] == [(made.invoice_id, made.view.number, "deposit")]
    assert {q.address for q in made.view.quotes} == {"allocated-SOL", "allocated-USDC", "allocated-USDT"}
    assert {r["address"] for r in _raw_rows_with_address(services, made.invoice_id)} == {
        "allocated-SOL", "allocated-USDC", "allocated-USDT"}


def test_a_failing_allocation_writes_nothing(services: Services) -> None:
    with services.uow() as uow:
        shop = create_store(uow, services.vault, name="Deposit", network="sandbox", settlement_mode="deposit")

    def unavailable(session: Any, invoice: NewInvoice) -> None:
        raise VaultInitializationFailed("Failed to create on-chain payment address")

    services.allocators["sandbox"] = unavailable
    try:
        with pytest.raises(VaultInitializationFailed):
            _create(services, _caller(services, shop.api_key), _request("order-6"))
    finally:
        del services.allocators["sandbox"]
    assert (_count(services, Invoice), _count(services, Quote), _count(services, Event)) == (0, 0, 0)


def test_concurrent_creates_each_commit_whole_and_retries_collapse(services: Services) -> None:
    """32 threads, two per external id: every invoice has its quotes and its event, and requests repeating an
    external id all get the one invoice (the unique constraint decides, on both databases)."""
    caller = _caller(services, _shop(services).api_key)
    numbers: dict[str, set[str]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(32)

    def buyer(index: int) -> None:
        start.wait()
        try:
            for round_ in range(5):
                external_id = f"order-{round_}-{index % 16}"
                made = _create(services, caller, _request(external_id))
                with lock:
                    numbers.setdefault(external_id, set()).add(made.view.number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(numbers) == 80 and all(len(found) == 1 for found in numbers.values())
    assert _count(services, Invoice) == 80
    assert _count(services, Quote) == 3 * 80
    assert _count(services, Event) == 80


def _raw_rows_with_address(services: Services, invoice_id: int) -> list[dict[str, Any]]:
    with services.uow() as uow:
        return [dict(row) for row in uow.session.execute(
            sa.text("SELECT address FROM quotes WHERE invoice_id = :v"), {"v": invoice_id}).mappings()]
