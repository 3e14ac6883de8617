"""A store's invoices as CSV or JSON, written while they are read (listing.iter_invoices): constant memory.

Amounts are exact decimal text, times ISO 8601 in UTC. CSV cells that a spreadsheet would run as a formula
(starting with = + - @, a tab or a carriage return) get a leading apostrophe (OWASP's CSV injection advice):
external ids and emails come from storefronts and buyers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

from gateway_core.invoices.listing import ROW_FIELDS, InvoiceRow

FORMATS = ("csv", "json")
ROWS_PER_CHUNK = 200  # rows joined into one piece of the stream: fewer, larger writes
_FORMULA = frozenset("=+-@\t\r")
_FIELDS = attrgetter(*ROW_FIELDS)


# Per value, by exact type: an export runs these half a million times, so the common case (text) comes first.
def _value(value: object) -> str | bool | None:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value  # type: ignore[return-value]
    if kind is datetime:
        return value.isoformat().replace("+00:00", "Z")  # type: ignore[attr-defined]
    if kind is Decimal:
        return format(value, "f")  # as exact as stored: 25.00 stays 25.00
    return str(value)


def row_record(row: InvoiceRow) -> dict[str, str | bool | None]:
    """One row as the export writes it, by column name."""
    return dict(zip(ROW_FIELDS, map(_value, _FIELDS(row)), strict=True))


def _cell(value: object) -> str:
    kind = type(value)
    if kind is str:
        return "'" + value if value[:1] in _FORMULA else value  # type: ignore[index,operator,return-value]
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    return _value(value)  # type: ignore[return-value]


def csv_chunks(rows: Iterable[InvoiceRow]) -> Iterator[str]:
    """A header line, then the rows, a few hundred per piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ROW_FIELDS)
    for count, row in enumerate(rows, 1):
        writer.writerow(list(map(_cell, _FIELDS(row))))
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_chunks(rows: Iterable[InvoiceRow]) -> Iterator[str]:
    """One JSON array, an object per row."""
    pieces: list[str] = []
    separator = "\n"
    yield "["
    for row in rows:
        pieces.append(separator + json.dumps(row_record(row), ensure_ascii=False))
        separator = ",\n"
        if len(pieces) == ROWS_PER_CHUNK:
            yield "".join(pieces)
            pieces.clear()
    yield "".join(pieces) + "\n]\n"


def export_chunks(rows: Iterable[InvoiceRow], fmt: str) -> Iterator[str]:
    """The rows in `fmt` (csv or json)."""
    return csv_chunks(rows) if fmt == "csv" else json_chunks(rows)
