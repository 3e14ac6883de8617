"""A store's invoices, newest first (issue 22): filters, a prefix search, keyset pages and a streamed export.

One query for the dashboard's list, its CSV and JSON export and `voltbridge invoice list|export`. Rows are
ordered by (created_at, id), descending: a page continues from the last row shown (keyset), so a deep page
costs what the first does; OFFSET is never used. Every filter and the search are served by indexes that
start with store_id (models.Invoice.__table_args__).

Search: one text matched as an exact PREFIX of the invoice number (letters upper-cased), of the external id
(case kept), or of the customer's email (ASCII letters lower-cased). Not a substring search: a prefix can
walk an index, a substring would read every invoice of the store.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, literal, or_, select, tuple_, union_all
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import INVOICE_EMAIL_KEY, INVOICE_LISTED_ASSET, Invoice
from gateway_core.domain import money
from gateway_core.domain.errors import Said, ValidationFailed, said
from gateway_core.domain.lifecycle import Status
from gateway_core.keys.api_keys import KEY_KINDS
from gateway_core.stores.manage import NETWORKS

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_CHUNK = 1000  # rows fetched per round trip while an export streams: memory stays flat whatever the count
MAX_SEARCH = 320
NARROW_SEARCH = 1000  # a search matching at most this many invoices reads them by id (_select)
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# The asset an invoice is listed under: the one it was paid in, else the one the buyer chose. Both expressions
# are those the indexes hold, so the filters read them from there.
LISTED_ASSET = INVOICE_LISTED_ASSET
EMAIL_KEY = INVOICE_EMAIL_KEY


@dataclass(frozen=True)
class InvoiceFilter:
    """Which of a store's invoices to list; every field optional. created_to is exclusive."""

    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    asset: str | None = None
    network: str | None = None
    contract: str | None = None
    platform: str | None = None
    search: str | None = None


def parse_filter(values: dict[str, str | None]) -> InvoiceFilter:
    """A filter from text (a query string, CLI options) keyed status, from, to, asset, network, contract, platform
    and q (the search); empty means unset.

    `from` and `to` take a date (YYYY-MM-DD, UTC; `to` includes its whole day) or an ISO 8601 time with its zone.
    ValidationFailed names every bad field.
    """
    text = {k: (v or "").strip() for k, v in values.items()}
    errors: dict[str, str | Said] = {}

    def choice(key: str, allowed: tuple[str, ...], fold: str = "lower") -> str | None:
        value = text.get(key, "")
        if not value:
            return None
        value = value.lower() if fold == "lower" else value.upper()
        if value not in allowed:
            errors[key] = said("d_one_of", f"one of {', '.join(allowed)}", choices=", ".join(allowed))
        return value

    status = choice("status", tuple(s.value for s in Status))
    asset = choice("asset", money.ASSET_ORDER, fold="upper")
    network = choice("network", NETWORKS)
    contract = choice("contract", KEY_KINDS)
    platform = text.get("platform") or None
    if platform is not None and len(platform) > 50:
        errors["platform"] = said("d_at_most", "at most 50 characters", max=50)
    search = text.get("q") or None
    if search is not None and len(search) > MAX_SEARCH:
        errors["q"] = said("d_at_most", f"at most {MAX_SEARCH} characters", max=MAX_SEARCH)
    created_from = _moment(text.get("from", ""), "from", errors, end_of_day=False)
    created_to = _moment(text.get("to", ""), "to", errors, end_of_day=True)
    if created_from and created_to and created_to <= created_from:
        errors.setdefault("to", said("d_after_from", "must be after from"))
    if errors:
        raise ValidationFailed(said("invalid_filter", "Invalid invoice filter"), errors=errors)
    return InvoiceFilter(status, created_from, created_to, asset, network, contract, platform, search)


def _moment(value: str, key: str, errors: dict[str, str | Said], end_of_day: bool) -> datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors[key] = said("d_date_or_time", "a date (YYYY-MM-DD) or an ISO 8601 time")
        return None
    if moment.tzinfo is None:
        errors[key] = said("d_time_zone", "an ISO 8601 time needs its zone (Z or +hh:mm)")
        return None
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class InvoiceRow:
    """One invoice as the list and the export show it (no quotes or payments: those are on its own page)."""

    number: str
    created_at: datetime
    status: str
    overpaid: bool
    paid_late: bool
    kind: str
    contract: str
    platform: str | None
    network: str
    external_id: str | None
    customer_email: str | None
    asset: str | None
    price_amount: Decimal
    price_currency: str
    fiat_amount: Decimal
    fiat_currency: str
    expires_at: datetime
    paid_at: datetime | None
    row_id: int  # for the cursor only, never shown: numbers identify invoices

    @property
    def cursor(self) -> str:
        return encode_cursor(self.created_at, self.row_id)


# What the export writes of a row, in this order.
ROW_FIELDS = tuple(f.name for f in fields(InvoiceRow) if f.name != "row_id")
_COLUMNS = (Invoice.number, Invoice.created_at, Invoice.status, Invoice.overpaid, Invoice.paid_late, Invoice.kind,
            Invoice.contract, Invoice.platform, Invoice.network, Invoice.external_id, Invoice.customer_email,
            LISTED_ASSET.label("asset"), Invoice.amount_type, Invoice.price_units, Invoice.price_currency,
            Invoice.fiat_minor, Invoice.fiat_currency, Invoice.expires_at, Invoice.paid_at, Invoice.id)


def _row(r: Any) -> InvoiceRow:
    (number, created_at, status, overpaid, paid_late, kind, contract, platform, network, external_id, email, asset,
     amount_type, price_units, price_currency, fiat_minor, fiat_currency, expires_at, paid_at, row_id) = r
    if amount_type == "fiat":
        price = money.minor_to_fiat(price_units, price_currency)
    else:
        price = money.from_base_units(price_units, money.asset(price_currency))
    return InvoiceRow(number, created_at, status, bool(overpaid), bool(paid_late), kind, contract, platform, network,
                      external_id, email, asset, price, price_currency, money.minor_to_fiat(fiat_minor, fiat_currency),
                      fiat_currency, expires_at, paid_at, row_id)


def encode_cursor(created_at: datetime, row_id: int) -> str:
    """Where a page ends, as an opaque URL-safe token."""
    raw = f"{created_at.astimezone(UTC).isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, int]:
    """The (created_at, id) a token names; ValidationFailed for anything this module did not write."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment, row_id = raw.split("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is None or not row_id.isdigit():
            raise ValueError(raw)
        return created_at.astimezone(UTC), int(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("Invalid page cursor", errors={"cursor": "not a cursor this list wrote"}) from None


def _upper_bound(prefix: str) -> str | None:
    """The least text above every text that starts with `prefix`, in code point order (None: no bound)."""
    stem = prefix.rstrip(chr(0x10FFFF))
    if not stem:
        return None
    last = ord(stem[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are not characters: step over them
        last = 0xE000
    return stem[:-1] + chr(last)


def _prefix(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`, as a range an index can walk.

    Compared in code point order on both backends: SQLite's BINARY collation does, and on PostgreSQL the
    ~>=~ ~<~ operators of text_pattern_ops (the indexes' operator class) compare bytes whatever the
    database's locale (a plain >= under a linguistic collation would not be a prefix test)."""
    upper = _upper_bound(prefix)
    if dialect == "postgresql":
        low = column.op("~>=~", is_comparison=True)(prefix)
        return low if upper is None else and_(low, column.op("~<~", is_comparison=True)(upper))
    return column >= prefix if upper is None else and_(column >= prefix, column < upper)


def _select(uow: UnitOfWork, store_id: int, flt: InvoiceFilter, narrow: int = NARROW_SEARCH) -> Select[Any]:
    """The store's invoices the filter selects (unordered), in the form that stays fast for this search.

    A search that matches few invoices (most do: an email, an order id) is answered by reading their ids from
    the three search indexes first, then only those rows. One that matches many ("c") is better answered by
    walking the store's newest-first index and testing each row: a few thousand rows fill a page, where the
    other way would sort every match. Without statistics neither planner can tell the two apart, hence the
    probe here.
    """
    dialect = uow.session.get_bind().dialect.name
    query: Any = select(*_COLUMNS)
    if not flt.search:
        return query.where(Invoice.store_id == store_id, *_filters(flt, steer=False))
    tests = [_prefix(Invoice.number, flt.search.upper(), dialect), _prefix(Invoice.external_id, flt.search, dialect),
             _prefix(EMAIL_KEY, flt.search.translate(_LOWER), dialect)]
    probe = union_all(*(select(Invoice.id).where(Invoice.store_id == store_id, test) for test in tests))
    ids = sorted(set(uow.session.execute(probe.limit(narrow + 1)).scalars()))
    if len(ids) > narrow:
        return query.where(Invoice.store_id == store_id, or_(*tests), *_filters(flt, steer=False))
    # The ids are the store's. SQLite, left to itself, would rather walk an index on store_id or status
    # than fetch a few rows by id: the filters are kept away from its indexes (unary +).
    return query.where(Invoice.id.in_(ids), *_filters(flt, steer=dialect == "sqlite"))


def _filters(flt: InvoiceFilter, steer: bool) -> list[ColumnElement[bool]]:
    def col(column: Any) -> Any:
        return UnaryExpression(column, operator=custom_op("+"), type_=column.type) if steer else column

    terms: list[ColumnElement[bool]] = []
    if flt.status:
        terms.append(col(Invoice.status) == flt.status)
    if flt.created_from:
        terms.append(col(Invoice.created_at) >= flt.created_from)
    if flt.created_to:
        terms.append(col(Invoice.created_at) < flt.created_to)
    for column, value in ((LISTED_ASSET, flt.asset), (Invoice.network, flt.network),
                          (Invoice.contract, flt.contract), (Invoice.platform, flt.platform)):
        if value:
            terms.append(col(column) == value)
    return terms


@dataclass(frozen=True)
class InvoicePage:
    """One page, newest first; `older` and `newer` are the cursors of the pages beside it (None: none)."""

    rows: list[InvoiceRow]
    older: str | None
    newer: str | None


def list_invoices(uow: UnitOfWork, store_id: int, flt: InvoiceFilter, *, after: str | None = None,
                  before: str | None = None, limit: int = PAGE_SIZE, narrow_search: int = NARROW_SEARCH) -> InvoicePage:
    """A page of the store's invoices: the newest, or those just older than `after` / newer than `before`.

    narrow_search: how many matches a search may have and still be read by id (_select)."""
    if after and before:
        raise ValidationFailed("Invalid page cursor", errors={"cursor": "either after or before, not both"})
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    key = tuple_(Invoice.created_at, Invoice.id)
    query = _select(uow, store_id, flt, narrow_search)
    if before:
        query = query.where(key > tuple_(*_bound(before))).order_by(Invoice.created_at.asc(), Invoice.id.asc())
    else:
        if after:
            query = query.where(key < tuple_(*_bound(after)))
        query = query.order_by(Invoice.created_at.desc(), Invoice.id.desc())
    rows = [_row(r) for r in uow.session.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    if before:
        rows.reverse()
        return InvoicePage(rows, older=rows[-1].cursor if rows else None,
                           newer=rows[0].cursor if more and rows else None)
    return InvoicePage(rows, older=rows[-1].cursor if more else None,
                       newer=rows[0].cursor if after and rows else None)


def _bound(token: str) -> tuple[Any, Any]:
    created_at, row_id = decode_cursor(token)
    # Typed binds: SQLite compares the stored text, so the time must be written exactly as the column writes it.
    return literal(created_at, Invoice.created_at.type), literal(row_id, Invoice.id.type)


def iter_invoices(uow: UnitOfWork, store_id: int, flt: InvoiceFilter, chunk: int = EXPORT_CHUNK,
                  narrow_search: int = NARROW_SEARCH) -> Iterator[InvoiceRow]:
    """Every invoice the filter selects, newest first, fetched `chunk` rows at a time (a server-side cursor on
    PostgreSQL): an export of any size streams in constant memory. Iterate inside the unit of work."""
    query = _select(uow, store_id, flt, narrow_search).order_by(Invoice.created_at.desc(), Invoice.id.desc())
    # Core rows on the session's connection (no ORM loading per row); yield_per streams them.
    result = uow.session.connection().execute(query.execution_options(yield_per=chunk))
    for r in result:
        yield _row(r)
