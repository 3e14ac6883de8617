"""The one insert of a new invoice: its row, its platform-order link, its addresses, its quotes, its
invoice.created event and the deliveries the outbox says that event needs, in the caller's transaction.

SQLAlchemy Core statements, built once per dialect (so each is compiled once): the ORM's unit of work cost
most of a create. A repeated external id is caught by the unique (store, kind, external_id) constraint with
ON CONFLICT DO NOTHING, which writes nothing, instead of a query before every insert.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, lazyload

from gateway_core.adapters import wakeup
from gateway_core.adapters.models import ApiKey, Event, Invoice, PlatformOrder, Quote, Store
from gateway_core.domain.errors import InvalidApiKey, StoreNotFound
from gateway_core.keys.api_keys import Caller, key_is_live
from gateway_core.notifications.outbox import enqueue_for_event
from gateway_core.payments.allocation import Allocator, NewInvoice, allocate_addresses
from gateway_core.payments.assess import event_fields
from gateway_core.payments.tron_deposits import allocate_tron_addresses
from gateway_core.views import InvoiceView, StoreSnapshot, invoice_view

_ATTRIBUTE = {"metadata": "extra"}  # invoice columns whose model attribute has another name


@dataclass(frozen=True)
class Draft:
    """A new invoice, validated and priced, as rows: `invoice` by column name, its quotes, and its time."""

    invoice: dict[str, Any]
    quotes: list[dict[str, Any]]
    now: datetime


@dataclass(frozen=True)
class PlatformLink:
    """The storefront order a new invoice pays: a new link, or (`order_id`) an existing order's new invoice.

    `data` builds the link's data from the new invoice's number (some platforms report it back)."""

    installation_id: int
    order_ref: str
    data: Callable[[str], dict[str, Any]]
    order_id: int | None = None


class LinkTaken(Exception):
    """A concurrent request linked this platform order first: roll back to before the invoice and read its link."""


@dataclass(frozen=True)
class Written:
    id: int
    view: InvoiceView


def write_new_invoice(session: Session, store: StoreSnapshot, draft: Draft, allocators: Mapping[str, Allocator],
                      key: Caller | None = None, link: PlatformLink | None = None) -> Written | None:
    """Write the draft; None, writing nothing, when the store already has an invoice with its kind and external id.

    InvalidApiKey when `key` is no longer live (revoked or past its rotation's grace since it was cached).
    """
    connection = session.connection()
    statements = _statements(connection.dialect.name)
    now = draft.now
    params: dict[str, Any] = {"store_id": store.id}
    if key is not None:
        params.update(digest=key.digest, kind=key.kind, now=now)
    # The live row, for the outbox: the snapshot may be a few seconds old.
    owner = session.execute(_store_query(key is not None), params).scalar_one_or_none()
    if owner is None:
        if key is not None:
            raise InvalidApiKey("The provided API key is invalid")
        raise StoreNotFound(f"store {store.id} not found")
    invoice_id = connection.execute(statements.invoice, draft.invoice).scalar_one_or_none()
    if invoice_id is None:
        return None
    number = draft.invoice["number"]
    if link is not None:
        _link(connection, statements, link, invoice_id, number, now)
    quotes = [dict(quote, invoice_id=invoice_id) for quote in draft.quotes]
    allocate_tron_addresses(session, store, quotes)
    allocate_addresses(session, NewInvoice(invoice_id, number, store.network, store.settlement_mode, quotes),
                       allocators)
    connection.execute(statements.quote, quotes)
    wakeup.opened(session)  # the watcher's push subscribes the new addresses once this commits
    event = event_fields(store.id, "invoice.created", draft.invoice["status"], False, False, now)
    event_row_id = connection.execute(statements.event, {"invoice_id": invoice_id, **event}).scalar_one()
    # The rows as (transient) models, so the outbox and the view read them as they read any invoice.
    invoice = Invoice(id=invoice_id, **{_ATTRIBUTE.get(column, column): value
                                        for column, value in draft.invoice.items()})
    invoice.quotes = [Quote(**quote) for quote in quotes]
    invoice.payments = []
    invoice.store = owner
    enqueue_for_event(session, invoice, Event(id=event_row_id, invoice_id=invoice_id, **event), now)
    return Written(invoice_id, invoice_view(invoice, now))


def _link(connection: Any, statements: _Statements, link: PlatformLink, invoice_id: int, number: str,
          now: datetime) -> None:
    data = link.data(number)
    if link.order_id is not None:
        connection.execute(update(_table(PlatformOrder)).where(_table(PlatformOrder).c.id == link.order_id)
                           .values(invoice_id=invoice_id, data=data))
        return
    linked = connection.execute(statements.link, {"installation_id": link.installation_id,
                                                  "order_ref": link.order_ref, "invoice_id": invoice_id,
                                                  "data": data, "created_at": now}).scalar_one_or_none()
    if linked is None:
        raise LinkTaken(link.order_ref)


def _table(model: Any) -> Table:
    return model.__table__


@dataclass(frozen=True)
class _Statements:
    invoice: Any
    link: Any
    quote: Any
    event: Any


@functools.cache
def _statements(dialect: str) -> _Statements:
    """Built once per dialect and executed with parameters, so SQLAlchemy compiles each exactly once."""
    invoices, orders, quotes, events = (_table(m) for m in (Invoice, PlatformOrder, Quote, Event))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return _Statements(
        invoice=insert(invoices).on_conflict_do_nothing(index_elements=["store_id", "kind", "external_id"])
        .returning(invoices.c.id),
        link=insert(orders).on_conflict_do_nothing(index_elements=["installation_id", "order_ref"])
        .returning(orders.c.id),
        quote=quotes.insert(),
        event=events.insert().returning(events.c.id),
    )


@functools.cache
def _store_query(keyed: bool) -> Any:
    """The store's row (its wallets are not needed), and with `keyed` only while the caller's key is live."""
    query = select(Store).where(Store.id == bindparam("store_id")).options(lazyload(Store.wallets))
    if keyed:
        query = query.where(exists().where(ApiKey.store_id == Store.id, ApiKey.digest == bindparam("digest"),
                                           ApiKey.kind == bindparam("kind"), key_is_live(bindparam("now"))))
    return query
