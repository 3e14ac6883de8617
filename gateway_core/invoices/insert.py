"""The one insert of a new invoice: its row, its platform-order link, its addresses, its quotes, its
invoice.created event and the deliveries the outbox says that event needs, in the caller's transaction.

SQLAlchemy Core statements, built once per dialect (so each is compiled once): the ORM's unit of work cost
most of a create. A repeated external id is caught by the unique (store, kind, external_id) constraint with
ON CONFLICT DO NOTHING, which writes nothing, instead of a query before every insert; the caller's key is
checked by the same statement. On PostgreSQL a create is BEGIN, the invoice, its quotes, its event, COMMIT.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, class_mapper

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
    statements = _statements(connection.dialect.name, key is not None, tuple(draft.invoice))
    now = draft.now
    checks = {"key_digest": key.digest, "key_kind": key.kind, "key_now": now} if key is not None else {}
    event = event_fields(store.id, "invoice.created", draft.invoice["status"], False, False, now)
    # The key (or store) check rides on the insert itself, and on PostgreSQL so does the event: one statement.
    params = {**draft.invoice, **checks, **{f"event_{column}": value for column, value in event.items()}}
    row = connection.execute(statements.invoice, params).first()
    if row is None:
        if not connection.execute(statements.live, {"store_id": store.id, **checks}).scalar():
            if key is not None:
                raise InvalidApiKey("The provided API key is invalid")
            raise StoreNotFound(f"store {store.id} not found")
        return None
    invoice_id = row[0]
    if statements.event is None:  # written by the same statement
        event_row_id = row[1]
    else:
        event_row_id = connection.execute(statements.event, {**params, "event_invoice_id": invoice_id}).scalar_one()
    number = draft.invoice["number"]
    if link is not None:
        _link(connection, statements, link, invoice_id, number, now)
    quotes = [dict(quote, invoice_id=invoice_id) for quote in draft.quotes]
    allocate_tron_addresses(session, store, quotes)
    allocate_addresses(session, NewInvoice(invoice_id, number, store.network, store.settlement_mode, quotes),
                       allocators)
    connection.execute(statements.quote, quotes)
    wakeup.opened(session, store.network)  # the Solana push subscribes the new addresses once this commits
    # The rows as models, so the outbox and the view read them as they read any invoice; its store, whose
    # notification settings the snapshot lacks, is read by the outbox only if a delivery needs it.
    invoice = _as_loaded(Invoice, {_ATTRIBUTE.get(column, column): value for column, value in draft.invoice.items()},
                         id=invoice_id, quotes=[_as_loaded(Quote, quote) for quote in quotes], payments=[])
    enqueue_for_event(session, invoice, _as_loaded(Event, event, id=event_row_id, invoice_id=invoice_id), now)
    return Written(invoice_id, invoice_view(invoice, now, store))


M = TypeVar("M")


def _as_loaded(model: type[M], values: Mapping[str, Any], **more: Any) -> M:
    """A model instance holding these values as if loaded from its row: built without the ORM's attribute events
    (the constructor's cost most of a create's CPU), and never added to the session."""
    instance: Any = class_mapper(model).class_manager.new_instance()
    instance.__dict__.update(values, **more)
    return cast(M, instance)


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
    invoice: Any  # returns the invoice's id and, where `event` is None, its event's
    event: Any | None
    live: Any
    link: Any
    quote: Any


_EVENT_COLUMNS = ("event_id", "store_id", "type", "status", "data", "created_at")  # as event_fields makes them


@functools.cache
def _statements(dialect: str, keyed: bool, columns: tuple[str, ...]) -> _Statements:
    """Built once per dialect and shape and executed with parameters, so SQLAlchemy compiles each exactly once.

    The invoice is inserted from a SELECT of its values that yields a row only while the caller's key is live
    (`keyed`), else while its store exists: an insert that writes nothing is then a repeated external id
    (ON CONFLICT DO NOTHING), a dead key or a missing store, which `live` tells apart. On PostgreSQL its
    invoice.created event is inserted by the same statement (a data-modifying WITH); SQLite has none.
    """
    invoices, orders, quotes, events = (_table(m) for m in (Invoice, PlatformOrder, Quote, Event))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    store_id = bindparam("store_id", type_=invoices.c.store_id.type)
    values = [store_id if name == "store_id" else bindparam(name, type_=invoices.c[name].type) for name in columns]
    if keyed:
        live: Any = exists().where(ApiKey.store_id == store_id, ApiKey.digest == bindparam("key_digest"),
                                   ApiKey.kind == bindparam("key_kind"), key_is_live(bindparam("key_now")))
    else:
        live = exists().where(Store.id == store_id)
    invoice = (insert(invoices).from_select(list(columns), select(*values).where(live))
               .on_conflict_do_nothing(index_elements=["store_id", "kind", "external_id"]).returning(invoices.c.id))
    event_values = [bindparam(f"event_{name}", type_=events.c[name].type) for name in _EVENT_COLUMNS]
    event: Any = None
    if dialect == "postgresql":
        new = invoice.cte("new_invoice")
        invoice = (insert(events).from_select(["invoice_id", *_EVENT_COLUMNS], select(new.c.id, *event_values))
                   .returning(events.c.invoice_id, events.c.id))
    else:
        event = (events.insert().values(dict(zip(("invoice_id", *_EVENT_COLUMNS), (
            bindparam("event_invoice_id", type_=events.c.invoice_id.type), *event_values), strict=True)))
            .returning(events.c.id))
    return _Statements(
        invoice=invoice,
        event=event,
        live=select(live),
        link=insert(orders).on_conflict_do_nothing(index_elements=["installation_id", "order_ref"])
        .returning(orders.c.id),
        quote=quotes.insert(),
    )
