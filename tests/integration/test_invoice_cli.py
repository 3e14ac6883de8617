"""`voltbridge invoice list|show|cancel|export` (issue 22): the dashboard's list and filters for scripts."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from bridge.cli import main
from gateway_core.adapters.models import Delivery, Event, Invoice
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.listing import list_invoices, parse_filter
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.stores.manage import find_store
from tests.integration.dashboard_support import make_store, make_user
from tests.integration.invoice_list_support import Made, make_invoices


def run(app, *args: str):
    return app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def made(services, clock) -> Made:
    return make_invoices(services, clock, make_store(services, make_user(services, "owner@shop.test"), "Shop"),
                         count=24)


def test_list_pages_with_the_dashboards_filters(app, made) -> None:
    store = str(made.store_id)
    first = run(app, "invoice", "list", "--store", store, "--limit", "10")
    assert first.exit_code == 0, first.output
    assert [line.split("\t")[0] for line in first.stdout.splitlines()] == made.numbers()[:10]
    cursor = first.stderr.strip().removeprefix("more: --after ")
    second = run(app, "invoice", "list", "--store", "Shop", "--limit", "10", "--after", cursor, "--json")
    assert [json.loads(line)["number"] for line in second.stdout.splitlines()] == made.numbers()[10:20]
    pending = run(app, "invoice", "list", "--store", store, "--status", "pending", "--contract", "voltxt",
                  "--limit", "500", "--json")
    assert [json.loads(line)["number"] for line in pending.stdout.splitlines()] == \
        made.numbers(lambda v: v.status == "pending" and v.contract == "voltxt")
    assert pending.stderr == ""  # the last page: no cursor
    found = run(app, "invoice", "list", "--store", store, "--search", "BUYER1@")
    assert [line.split("\t")[0] for line in found.stdout.splitlines()] == \
        made.numbers(lambda v: (v.customer_email or "").lower().startswith("buyer1@"))


def test_bad_filters_and_unknown_stores_end_with_one_error_line(app, made) -> None:
    bad = run(app, "invoice", "list", "--store", str(made.store_id), "--status", "lost", "--from", "soon")
    assert bad.exit_code == 1 and bad.output.count("\n") == 1
    assert "Invalid invoice filter" in bad.output and "status:" in bad.output and "from:" in bad.output
    unknown = run(app, "invoice", "export", "--store", "Nowhere")
    assert unknown.exit_code == 1 and "not found" in unknown.output


def test_export_writes_every_selected_invoice_as_csv_or_json(app, services, made, tmp_path) -> None:
    store = str(made.store_id)
    every = run(app, "invoice", "export", "--store", store, "--csv")
    assert every.exit_code == 0, every.output
    rows = list(csv.DictReader(io.StringIO(every.stdout)))
    assert [r["number"] for r in rows] == made.numbers()
    flt = parse_filter({"asset": "SOL"})
    with services.uow(read_only=True) as uow:
        expected = list_invoices(uow, made.store_id, flt, limit=500).rows
    out = tmp_path / "sol.json"
    assert run(app, "invoice", "export", "--store", store, "--asset", "SOL", "--json", "-o", str(out)).exit_code == 0
    records = json.loads(out.read_text())
    assert [r["number"] for r in records] == [r.number for r in expected] and records
    assert all(r["asset"] == "SOL" and r["fiat_currency"] == "USD" for r in records)


def test_show_prints_an_invoice_of_the_store(app, services, made) -> None:
    view = next(v for v in made.views if v.payments)
    shown = run(app, "invoice", "show", view.number, "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["number"] == view.number and data["status"] == view.status.value
    assert data["payments"][0]["tx_id"] == view.payments[0].tx_id and len(data["quotes"]) == len(view.quotes)
    human = run(app, "invoice", "show", view.number, "--store", "Shop")
    assert f"number: {view.number}" in human.stdout and "payment: " in human.stdout
    other = make_store(services, make_user(services, "other@shop.test"), "Other")
    elsewhere = run(app, "invoice", "show", view.number, "--store", str(other))
    assert elsewhere.exit_code == 1 and "not found" in elsewhere.output


def test_cancel_takes_the_apis_path_with_its_event_and_webhook(app, services, made) -> None:
    with services.uow() as uow:
        request = InvoiceRequest(amount=Decimal("12.50"), external_id="cli-cancel",
                                 callback_url="https://shop.example/voltxt/callback")
        number = create_invoice(uow, find_store(uow, made.store_id), request, services.invoicing).view.number
    cancelled = run(app, "invoice", "cancel", number)
    assert cancelled.exit_code == 0 and cancelled.output == f"Invoice {number} is cancelled\n"
    with services.uow(read_only=True) as uow:
        invoice_id = uow.session.execute(select(Invoice.id).where(Invoice.number == number)).scalar_one()
        events = uow.session.execute(select(Event.type).where(Event.invoice_id == invoice_id)).scalars().all()
        queued = uow.session.execute(select(Delivery.event_type).where(Delivery.invoice_number == number)).scalars()
        assert events == ["invoice.created", "invoice.cancelled"]
        assert "payment_cancelled" in set(queued)  # the VOLTXT callback, in the outbox with the event
    assert run(app, "invoice", "cancel", number, "--store", "Shop").exit_code == 0  # twice is harmless
    settled = next(v for v in made.views if v.status == "settled")
    refused = run(app, "invoice", "cancel", settled.number)
    assert refused.exit_code == 1 and "can no longer be cancelled" in refused.output
    assert run(app, "invoice", "cancel", "NOSUCHNUMBER").exit_code == 1
