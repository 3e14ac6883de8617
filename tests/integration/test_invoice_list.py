"""The invoice list (issue 22): filters, prefix search, keyset pages and the export, on both databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from gateway_core.domain.errors import ValidationFailed
from gateway_core.invoices.listing import InvoiceFilter, iter_invoices, list_invoices, parse_filter
from tests.integration.dashboard_support import make_store, make_user, sign_in
from tests.integration.invoice_list_support import Made, listed_asset, make_invoices


@pytest.fixture
def made(services, clock) -> Made:
    owner = make_user(services, "owner@shop.test")
    other = make_store(services, make_user(services, "other@shop.test"), "Other")
    make_invoices(services, clock, other, count=6, settle=False)  # another store's: never listed
    return make_invoices(services, clock, make_store(services, owner, "Shop"))


def every(services, store_id: int, flt: InvoiceFilter, limit: int = 7, **kw) -> list[str]:
    """Every page forward, following the cursors."""
    numbers: list[str] = []
    after = None
    while True:
        with services.uow(read_only=True) as uow:
            page = list_invoices(uow, store_id, flt, after=after, limit=limit, **kw)
        numbers += [row.number for row in page.rows]
        if page.older is None:
            return numbers
        after = page.older


def test_filters_select_exactly_the_matching_invoices(services, made) -> None:
    day = made.views[len(made.views) // 2].created_at.date()
    start = datetime.combine(day, datetime.min.time(), UTC)
    cases = {
        "": lambda v: True,
        "status=cancelled": lambda v: v.status == "cancelled",
        "status=pending": lambda v: v.status == "pending",
        "asset=SOL": lambda v: listed_asset(v) == "SOL",
        "asset=usdt": lambda v: listed_asset(v) == "USDT",
        "network=sandbox": lambda v: True,
        "network=mainnet": lambda v: False,
        "contract=venta": lambda v: v.contract == "venta",
        "platform=saleor": lambda v: v.platform == "saleor",
        f"from={day}&to={day}": lambda v: start <= v.created_at < start + timedelta(days=1),
        f"from={day}": lambda v: v.created_at >= start,
        f"to={day}&status=pending&contract=voltxt":
            lambda v: v.created_at < start + timedelta(days=1) and v.status == "pending" and v.contract == "voltxt",
    }
    for query, keep in cases.items():
        flt = parse_filter(dict(part.split("=") for part in query.split("&") if part))
        expected = made.numbers(keep)
        assert every(services, made.store_id, flt) == expected, query
    assert {v.status for v in made.views} >= {"pending", "cancelled", "settled"}  # the cases above mean something


def test_search_matches_the_start_of_a_number_an_external_id_or_an_email(services, made) -> None:
    target = made.views[3]
    cases = {
        target.number: [target.number],
        target.number[:9].lower(): made.numbers(lambda v: v.number.startswith(target.number[:9])),
        "order-01": made.numbers(lambda v: (v.external_id or "").startswith("order-01")),
        "ORDER-01": [],  # external ids keep their case
        "Ord-": made.numbers(lambda v: (v.external_id or "").startswith("Ord-")),
        "BUYER3@shop1": made.numbers(lambda v: (v.customer_email or "").lower().startswith("buyer3@shop1")),
        "shop1.test": [],  # a prefix, not a substring
        "b": made.numbers(lambda v: (v.customer_email or "").lower().startswith("b")
                          or v.number.startswith("B") or (v.external_id or "").startswith("b")),
    }
    for q, expected in cases.items():
        assert every(services, made.store_id, parse_filter({"q": q})) == expected, q
        # A search that matches more than `narrow_search` takes the other path: the same rows.
        assert every(services, made.store_id, parse_filter({"q": q}), narrow_search=1) == expected, q
    paid = parse_filter({"q": "buyer", "status": "settled"})
    assert every(services, made.store_id, paid, narrow_search=0) == every(services, made.store_id, paid) == \
        made.numbers(lambda v: v.status == "settled" and (v.customer_email or "").lower().startswith("buyer"))


def test_keyset_pages_cover_every_invoice_once_in_both_directions(services, made) -> None:
    for flt in (InvoiceFilter(), parse_filter({"contract": "voltxt"}), parse_filter({"q": "buyer"})):
        for limit in (1, 5, 7, 200):
            forward = every(services, made.store_id, flt, limit=limit)
            assert len(forward) == len(set(forward)), (flt, limit)
            # ... and back from the oldest page, following the `newer` cursors.
            with services.uow(read_only=True) as uow:
                first = list_invoices(uow, made.store_id, flt, limit=limit)
                page = first
                while page.older:
                    page = list_invoices(uow, made.store_id, flt, after=page.older, limit=limit)
                backward = [r.number for r in page.rows]
                while page.newer:
                    page = list_invoices(uow, made.store_id, flt, before=page.newer, limit=limit)
                    backward = [r.number for r in page.rows] + backward
            assert backward == forward and [r.number for r in page.rows] == [r.number for r in first.rows]
            assert page.newer is None


def test_bad_filters_and_cursors_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationFailed) as bad:
        parse_filter({"status": "lost", "asset": "DOGE", "from": "yesterday", "to": "2026-01-01T00:00:00",
                      "contract": "paypal"})
    assert set(bad.value.errors) == {"status", "asset", "from", "to", "contract"}
    with pytest.raises(ValidationFailed) as backwards:
        parse_filter({"from": "2026-02-01", "to": "2026-01-01"})
    assert backwards.value.errors == {"to": "must be after from"}
    from gateway_core.invoices.listing import decode_cursor

    for token in ("", "nope", "bm9wZQ", "MjAyNi0wMS0wMVQwMDowMDowMHwx"):  # the last: a time without its zone
        with pytest.raises(ValidationFailed):
            decode_cursor(token)


def _exported(client, store_id: int, fmt: str, query: str = "") -> list[dict]:
    answer = client.get(f"/dashboard/stores/{store_id}/invoices/export.{fmt}?{query}")
    assert answer.status_code == 200 and answer.is_streamed
    assert "attachment" in answer.headers["Content-Disposition"]
    body = answer.get_data(as_text=True)
    if fmt == "json":
        return json.loads(body)  # type: ignore[no-any-return]
    return list(csv.DictReader(io.StringIO(body)))


def test_export_rows_equal_the_filtered_list(services, client, made) -> None:
    sign_in(client, "owner@shop.test")
    for query in ("", "status=pending", "q=buyer1", "asset=SOL&platform=woocommerce", "status=expired"):
        flt = parse_filter(dict(part.split("=") for part in query.split("&") if part))
        with services.uow(read_only=True) as uow:
            rows = list(iter_invoices(uow, made.store_id, flt, chunk=3))
        assert [r.number for r in rows] == every(services, made.store_id, flt), query
        as_json = _exported(client, made.store_id, "json", query)
        as_csv = _exported(client, made.store_id, "csv", query)
        assert [r["number"] for r in as_json] == [r["number"] for r in as_csv] == [r.number for r in rows], query
        for row, record, line in zip(rows, as_json, as_csv, strict=True):
            assert record["fiat_amount"] == line["fiat_amount"] == f"{row.fiat_amount}"
            assert record["created_at"] == line["created_at"] == row.created_at.isoformat().replace("+00:00", "Z")
            assert record["customer_email"] == row.customer_email
            assert line["customer_email"] == (row.customer_email or "")
            assert record["status"] == line["status"] == row.status and record["asset"] == row.asset


def test_export_defuses_spreadsheet_formulas(services, client, clock) -> None:
    from decimal import Decimal

    from gateway_core.invoices.create import create_invoice
    from gateway_core.invoices.manage import InvoiceRequest
    from gateway_core.stores.manage import find_store

    store_id = make_store(services, make_user(services, "owner@shop.test"))
    with services.uow() as uow:
        create_invoice(uow, find_store(uow, store_id), InvoiceRequest(amount=Decimal(5), external_id="=1+2"),
                       services.invoicing)
    sign_in(client, "owner@shop.test")
    assert _exported(client, store_id, "csv")[0]["external_id"] == "'=1+2"
    assert _exported(client, store_id, "json")[0]["external_id"] == "=1+2"


def test_the_page_lists_filters_and_pages_without_scripts(services, client, made) -> None:
    sign_in(client, "owner@shop.test")
    base = f"/dashboard/stores/{made.store_id}/invoices"
    first = client.get(base)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "<script" not in html
    assert [n for n in made.numbers() if n in html] == made.numbers()[:50]
    older = html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    rest = client.get(older).get_data(as_text=True)
    assert [n for n in made.numbers() if n in rest] == made.numbers()[50:] and 'rel="next"' not in rest
    newer = rest.split('rel="prev" href="')[1].split('"')[0].replace("&amp;", "&")
    assert [n for n in made.numbers() if n in client.get(newer).get_data(as_text=True)] == made.numbers()[:50]
    filtered = client.get(f"{base}?status=cancelled&q=").get_data(as_text=True)
    assert [n for n in made.numbers() if n in filtered] == made.numbers(lambda v: v.status == "cancelled")
    assert "export.csv?status=cancelled" in filtered  # the export takes the filter along
    german = client.get(f"{base}?status=cancelled", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Rechnungen" in german and "Storniert" in german and '<html lang="de">' in german


def test_the_page_and_export_refuse_bad_input_plainly(client, made) -> None:
    sign_in(client, "owner@shop.test")
    base = f"/dashboard/stores/{made.store_id}/invoices"
    bad = client.get(f"{base}?status=lost&from=soon")
    assert bad.status_code == 400 and "The filter is not valid." in bad.get_data(as_text=True)  # the core key, said
    assert client.get(f"{base}?after=garbage").status_code == 400
    assert client.get(f"{base}/export.csv?asset=DOGE").status_code == 422
    assert client.get(f"{base}/export.xml").status_code == 404


def test_sqlite_answers_each_list_from_an_index(services, made) -> None:
    """SQLite has no statistics here: the query's shape alone must lead it to the right index."""
    if services.engine is None or services.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner")
    from gateway_core.adapters.models import Invoice
    from gateway_core.invoices.listing import _select

    cases = {"": "ix_invoices_store_created", "status=pending": "ix_invoices_store_status_created",
             "asset=SOL": "ix_invoices_store_asset_created", "q=order-011": "INTEGER PRIMARY KEY",
             "q=order-011&status=pending": "INTEGER PRIMARY KEY", "from=2026-01-16": "ix_invoices_store_created"}
    for query, index in cases.items():
        flt = parse_filter(dict(part.split("=") for part in query.split("&") if part))
        with services.uow(read_only=True) as uow:
            query = _select(uow, made.store_id, flt).order_by(Invoice.created_at.desc(), Invoice.id.desc()).limit(51)
            statement = query.compile(services.engine, compile_kwargs={"literal_binds": True})
            plan = " ".join(str(r) for r in uow.session.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
        assert index in plan, (query, plan)
