"""The create-invoice hot path (services/invoice_intake.py and adapters/invoice_writers): the rows it writes,
the keys it lets through, and what it does under concurrent requests."""

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
from gateway_core.domain.errors import DuplicateExternalId, InvalidApiKey
from gateway_core.services.invoices import InvoiceRequest, create_invoice, get_invoice
from gateway_core.services.keys import key_digest, rotate_key
from gateway_core.services.stores import NewStore, create_store

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


def test_the_hot_path_stores_the_same_bytes_as_the_general_path(services: Services) -> None:
    intake = services.intake
    assert intake is not None
    fast_shop, general_shop = _shop(services, "Fast"), _shop(services, "General")

    fast_view, created = intake.create(intake.caller(fast_shop.api_key), _request("order-1"))
    assert created
    with services.uow() as uow:
        store = uow.session.get(Store, general_shop.id)
        general_view, _ = create_invoice(uow, store, _request("order-1"), services.rates, services.clock,
                                         services.limits)

    fast_id, general_id = _invoice_id(services, fast_view.number), _invoice_id(services, general_view.number)
    assert _raw_rows(services, "invoices", "id", fast_id) == _raw_rows(services, "invoices", "id", general_id)
    assert _raw_rows(services, "quotes", "invoice_id", fast_id) == _raw_rows(services, "quotes", "invoice_id",
                                                                             general_id)
    events = _raw_rows(services, "events", "invoice_id", fast_id)
    assert [e["type"] for e in events] == ["invoice.created"]
    assert events == _raw_rows(services, "events", "invoice_id", general_id)
    assert len(_raw_rows(services, "quotes", "invoice_id", fast_id)) == 3


def test_the_answer_is_the_view_of_what_was_stored(services: Services) -> None:
    intake = services.intake
    assert intake is not None
    shop = _shop(services)
    view, _ = intake.create(intake.caller(shop.api_key), _request("order-2", amount="0.30", expiry_hours=2))
    with services.uow() as uow:
        stored = get_invoice(uow, uow.session.get(Store, shop.id), view.number, services.clock)
    assert view == stored


def test_a_retry_returns_the_first_invoice_and_a_changed_one_conflicts(services: Services) -> None:
    intake = services.intake
    assert intake is not None
    caller = intake.caller(_shop(services).api_key)
    first, created = intake.create(caller, _request("order-3"))
    again, created_again = intake.create(caller, _request("order-3"))
    assert created and not created_again and again.number == first.number
    with pytest.raises(DuplicateExternalId):
        intake.create(caller, _request("order-3", amount="43.00"))
    assert _count(services, Invoice) == 1 and _count(services, Quote) == 3 and _count(services, Event) == 1


def test_a_key_revoked_after_it_was_cached_creates_nothing(services: Services) -> None:
    intake = services.intake
    assert intake is not None
    shop = _shop(services)
    caller = intake.caller(shop.api_key)  # now cached for the web process
    with services.uow() as uow:
        uow.session.execute(sa.update(ApiKey).where(ApiKey.digest == key_digest(shop.api_key))
                            .values(expires_at=services.clock.now() - timedelta(seconds=1)))
    with pytest.raises(InvalidApiKey):
        intake.create(caller, _request("order-4"))
    with pytest.raises(InvalidApiKey):
        intake.caller(shop.api_key)  # and the cache no longer vouches for it
    assert _count(services, Invoice) == 0 and _count(services, Event) == 0


def test_a_rotated_key_stops_at_the_end_of_its_grace_even_from_the_cache(services: Services,
                                                                         clock: FrozenClock) -> None:
    intake = services.intake
    assert intake is not None
    shop = _shop(services)
    cached = intake.caller(shop.api_key)
    with services.uow() as uow:
        new_key = rotate_key(uow, services.vault, shop.id, clock, timedelta(hours=1))
    clock.advance(minutes=30)
    assert intake.create(intake.caller(shop.api_key), _request("in-grace"))[1]
    clock.advance(minutes=31)
    with pytest.raises(InvalidApiKey):
        intake.create(cached, _request("after-grace"))
    with pytest.raises(InvalidApiKey):
        intake.caller(shop.api_key)
    assert intake.create(intake.caller(new_key.api_key), _request("new-key"))[1]


def test_store_settings_reach_the_cache_within_its_lifetime(services: Services) -> None:
    intake = services.intake
    assert intake is not None
    shop = _shop(services)
    ticks = [0.0]
    intake.keys._monotonic = lambda: ticks[0]  # the cache's own clock, moved by hand
    assert intake.caller(shop.api_key).store.default_expiry_hours == 24
    with services.uow() as uow:
        uow.session.execute(sa.update(Store).where(Store.id == shop.id).values(default_expiry_hours=3))
    ticks[0] = intake.keys.seconds - 0.5
    assert intake.caller(shop.api_key).store.default_expiry_hours == 24  # still the cached copy
    ticks[0] = intake.keys.seconds + 0.5
    assert intake.caller(shop.api_key).store.default_expiry_hours == 3


def test_stores_that_allocate_addresses_take_the_general_path(services: Services) -> None:
    intake = services.intake
    assert intake is not None
    with services.uow() as uow:
        shop = create_store(uow, services.vault, name="Deposit", network="sandbox", settlement_mode="deposit")
    allocated: list[str] = []
    services.allocators["sandbox"] = lambda session, invoice: allocated.append(invoice.number)
    try:
        view, created = intake.create(intake.caller(shop.api_key), _request("order-5"))
    finally:
        del services.allocators["sandbox"]
    assert created and allocated == [view.number]


def test_concurrent_creates_each_commit_whole_and_retries_collapse(services: Services) -> None:
    """32 threads through one writer (group commit): every invoice has its quotes and its event, and
    requests repeating an external id all get the one invoice."""
    intake = services.intake
    assert intake is not None
    caller = intake.caller(_shop(services).api_key)
    numbers: dict[str, set[str]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(32)

    def buyer(index: int) -> None:
        start.wait()
        try:
            for round_ in range(10):
                external_id = f"order-{round_}-{index % 16}"  # two threads per external id
                view, _ = intake.create(caller, _request(external_id))
                with lock:
                    numbers.setdefault(external_id, set()).add(view.number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(numbers) == 160 and all(len(found) == 1 for found in numbers.values())
    assert _count(services, Invoice) == 160
    assert _count(services, Quote) == 3 * 160
    assert _count(services, Event) == 160


def test_one_batch_writes_mixed_shapes_and_leaves_out_only_its_repeats(services: Services,
                                                                      database_url: str) -> None:
    """Creates that queue while another writer holds SQLite's turn go in as one batch, whatever their quotes;
    a repeat and a conflicting reuse of an external id inside that batch write nothing of their own."""
    if not database_url.startswith("sqlite"):
        pytest.skip("group commit is SQLite's: PostgreSQL writes each invoice in its own statement")
    from sqlalchemy.engine import make_url

    from gateway_core.adapters import sqlite_writers

    intake = services.intake
    assert intake is not None
    caller = intake.caller(_shop(services).api_key)
    requests = {"three": _request("order-a"), "one": _request("order-b", assets=("SOL",)),
                "repeat": _request("order-a"), "conflict": _request("order-a", amount="43.00")}
    answers: dict[str, Any] = {}

    def create(name: str) -> None:
        try:
            answers[name] = intake.create(caller, requests[name])
        except BaseException as exc:
            answers[name] = exc

    group = intake.writer._group  # type: ignore[union-attr]
    gate = sqlite_writers.gate_for(make_url(database_url).database)
    gate.acquire()  # another process's turn, as far as this one can tell
    threads = [threading.Thread(target=create, args=(name,)) for name in requests]
    try:
        for thread in threads:
            thread.start()
        for _ in range(500):  # every create has queued behind the turn
            if len(group._queue) == len(requests):
                break
            threading.Event().wait(0.01)
        assert len(group._queue) == len(requests)
    finally:
        gate.release()
    for thread in threads:
        thread.join(timeout=10)
    (three, created_three), (one, created_one) = answers["three"], answers["one"]
    assert created_three and created_one
    assert answers["repeat"] == (three, False)
    assert isinstance(answers["conflict"], DuplicateExternalId)
    assert [q.asset for q in three.quotes] == ["SOL", "USDC", "USDT"] and [q.asset for q in one.quotes] == ["SOL"]
    assert len(_raw_rows(services, "quotes", "invoice_id", _invoice_id(services, three.number))) == 3
    assert len(_raw_rows(services, "quotes", "invoice_id", _invoice_id(services, one.number))) == 1
    assert (_count(services, Invoice), _count(services, Quote), _count(services, Event)) == (2, 4, 2)


def test_a_dropped_database_connection_is_replaced(services: Services, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL closes idle connections; an embedded SQLite file has none to lose")
    intake = services.intake
    assert intake is not None
    caller = intake.caller(_shop(services).api_key)
    assert intake.create(caller, _request("before"))[1]
    connections = intake.writer._connections  # type: ignore[union-attr]
    idle, _fresh = connections.borrow()
    connections.give_back(idle)
    with services.uow() as uow:  # what a server restart or an idle timeout does to the writer's connection
        uow.session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": idle.info.backend_pid})
    assert intake.create(caller, _request("after"))[1]
    assert _count(services, Invoice) == 2


def test_without_a_writer_every_create_takes_the_general_path(services: Services) -> None:
    from gateway_core.services.invoice_intake import InvoiceIntake

    intake = InvoiceIntake(services.uow, None, services.rates, services.clock, services.limits)
    caller = intake.caller(_shop(services).api_key)
    view, created = intake.create(caller, _request("order-6"))
    again, created_again = intake.create(caller, _request("order-6"))
    assert created and not created_again and again.number == view.number
    assert _count(services, Invoice) == 1 and _count(services, Event) == 1
