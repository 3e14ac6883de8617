# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""The invoice page (issue 22): its timeline, redelivery, cancelling, and the merchant's decisions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from gateway_core.accounts.members import create_store_for
from gateway_core.adapters.models import Event, Invoice, InvoiceDecision
from gateway_core.contracts.voltxt_payloads import explorer_link
from gateway_core.invoices.timeline import invoice_timeline
from tests.conftest import tick
from tests.integration.dashboard_support import csrf_token, make_user, sign_in, staffed_store
from tests.integration.invoice_page_support import new_invoice, quote_of
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    configure,
    deliveries,
    dispatcher,
    napp,
    nclient,
    nsettings,
    nsvc,
    pay,
    receiver,
)


@pytest.fixture
def merchant(nsvc) -> dict[str, Any]:
    """A sandbox store with an owner, a manager and a viewer, and a member of another store."""
    store = staffed_store(nsvc)
    return {"store": store.id, "api_key": store.api_key}


def _post(client: Any, path: str, form: dict[str, str] | None = None, page: str | None = None) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, page or "/dashboard/"), **(form or {})})


def _status(nsvc, number: str) -> str:
    with nsvc.uow() as uow:
        return uow.session.execute(select(Invoice.status).where(Invoice.number == number)).scalar_one()


def _events(nsvc, number: str) -> list[Event]:
    with nsvc.uow() as uow:
        rows = uow.session.execute(select(Event).join(Invoice, Event.invoice_id == Invoice.id)
                                   .where(Invoice.number == number).order_by(Event.id)).scalars().all()
        for row in rows:
            uow.session.expunge(row)
        return list(rows)


def test_the_timeline_shows_events_quotes_payments_attempts_and_emails(nsvc, nclient, merchant, receiver,
                                                                          dispatcher):
    configure(nsvc, merchant["store"], webhook_url=receiver.url("/store"), email_notifications=True)
    receiver.on("/store", status=500, body=b'{"error":"shop is down"}')
    number = new_invoice(nsvc, merchant["store"], customer_email="buyer@example.test")
    pay(nsvc, number)
    dispatcher.run_until_idle()

    with nsvc.uow() as uow:
        tl = invoice_timeline(uow, merchant["store"], number, nsvc.clock)
    assert [e.type for e in tl.events] == ["invoice.created", "invoice.paid", "invoice.confirmed", "invoice.settled"]
    sol = next(q for q in tl.quotes if q.asset == "SOL")
    assert sol.amount_due == Decimal("0.6666") and sol.rate_currency == "USD" and sol.sources
    assert sol.rated_at is not None and sol.holds_until is not None
    (payment,) = tl.payments
    assert payment.disposition == "matched" and payment.final and payment.amount == Decimal("0.6666")
    assert payment.explorer_url is None  # the sandbox ledger has no explorer
    hooks = [d for d in tl.deliveries if d.channel == "store"]
    assert len(hooks) == 2  # payment_received, payment_completed: the second waits behind the failing first
    first = hooks[0].attempts[0]
    assert first.status_code == 500 and not first.ok and first.excerpt == '{"error":"shop is down"}'
    assert first.latency_ms >= 0
    assert tl.emails and {m.recipient for m in tl.emails} == {"owner@shop.test"}
    assert tl.can_cancel is False and tl.can_decide is False

    sign_in(nclient, "viewer@shop.test")
    answer = nclient.get(f"/dashboard/stores/{merchant['store']}/invoices/{number}")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    for text in (number, "invoice.settled", payment.tx_id, "0.6666", "shop is down", " ms", tl.emails[0].subject,
                 "sandbox ledger: no explorer", "fixed"):
        assert text in html, text
    assert "Redeliver" not in html and "Cancel invoice" not in html  # a viewer reads, no actions


def test_explorer_links_follow_the_store_network() -> None:
    assert explorer_link("devnet", "solana", "tx", "abc") == "https://explorer.solana.com/tx/abc?cluster=devnet"
    assert explorer_link("mainnet", "solana", "tx", "abc") == "https://explorer.solana.com/tx/abc"
    assert explorer_link("mainnet", "tron", "tx", "abc") == "https://tronscan.org/#/transaction/abc"
    assert explorer_link("sandbox", "sandbox", "tx", "abc") is None


def test_a_manager_redelivers_through_the_outbox(nsvc, nclient, merchant, receiver, dispatcher, clock):
    configure(nsvc, merchant["store"], webhook_url=receiver.url("/store"))
    receiver.on("/store", status=503)
    number = new_invoice(nsvc, merchant["store"])
    other = new_invoice(nsvc, merchant["store"])
    pay(nsvc, number)
    dispatcher.run_until_idle()
    failed = next(d for d in deliveries(nsvc, channel="store", invoice_number=number) if d.status == "pending")
    page = f"/dashboard/stores/{merchant['store']}/invoices/{number}"

    sign_in(nclient, "viewer@shop.test")
    assert _post(nclient, f"{page}/deliveries/{failed.id}/redeliver", page=page).status_code == 403
    nclient.post("/dashboard/sign-out", data={"csrf_token": csrf_token(nclient, "/dashboard/")})

    sign_in(nclient, "manager@shop.test")
    answer = _post(nclient, f"{page}/deliveries/{failed.id}/redeliver", page=page)
    assert answer.status_code == 302 and "done=redelivered" in answer.headers["Location"]
    copy = deliveries(nsvc, redelivery_of=failed.id)
    assert len(copy) == 1 and copy[0].is_redelivery and copy[0].event_id == failed.event_id
    assert copy[0].status == "pending" and copy[0].body == failed.body
    # A delivery of this invoice is not another invoice's, even in the same store.
    wrong = f"/dashboard/stores/{merchant['store']}/invoices/{other}/deliveries/{failed.id}/redeliver"
    assert _post(nclient, wrong, page=page).status_code == 404
    # The endpoint is fixed: the retry goes through, then the copy behind it (one invoice's events stay in order).
    receiver.on("/store", status=200)
    clock.current = failed.next_attempt_at
    dispatcher.run_until_idle()
    dispatcher.run_until_idle()
    assert deliveries(nsvc, id=failed.id)[0].status == "delivered"
    assert deliveries(nsvc, id=copy[0].id)[0].status == "delivered"
    ids = [r.header("webhook-id") for r in receiver.posts("/store")]
    assert ids.count(failed.event_id) == 3  # failed, retried, redelivered: one event id throughout
    html = nclient.get(page).get_data(as_text=True)
    assert "Redelivery queued" not in html and "redelivery" in html


def test_a_manager_cancels_an_open_invoice_with_its_event_and_outbox_rows(nsvc, nclient, merchant, receiver):
    configure(nsvc, merchant["store"], webhook_url=receiver.url("/store"))
    number = new_invoice(nsvc, merchant["store"])
    page = f"/dashboard/stores/{merchant['store']}/invoices/{number}"
    sign_in(nclient, "viewer@shop.test")
    assert _post(nclient, f"{page}/cancel", page=page).status_code == 403
    assert _status(nsvc, number) == "pending"
    nclient.post("/dashboard/sign-out", data={"csrf_token": csrf_token(nclient, "/dashboard/")})

    sign_in(nclient, "manager@shop.test")
    assert "Cancel invoice" in nclient.get(page).get_data(as_text=True)
    answer = _post(nclient, f"{page}/cancel", page=page)
    assert answer.status_code == 302
    assert _status(nsvc, number) == "cancelled"
    cancelled = [e for e in _events(nsvc, number) if e.type == "invoice.cancelled"]
    assert len(cancelled) == 1
    rows = deliveries(nsvc, event_id=cancelled[0].event_id)
    assert [d.channel for d in rows] == ["store"] and rows[0].status == "pending"
    html = nclient.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Invoice cancelled." in html and "Cancel invoice" not in html

    paid = new_invoice(nsvc, merchant["store"])
    pay(nsvc, paid)
    refused = _post(nclient, f"/dashboard/stores/{merchant['store']}/invoices/{paid}/cancel", page=page)
    assert refused.status_code == 409 and "can no longer be cancelled" in refused.get_data(as_text=True)
    assert _status(nsvc, paid) == "settled"


def test_decisions_on_underpaid_and_overpaid_invoices_are_kept_with_who_and_when(nsvc, nclient, merchant, clock):
    short = new_invoice(nsvc, merchant["store"])
    pay(nsvc, short, amount=Decimal("0.3"))
    page = f"/dashboard/stores/{merchant['store']}/invoices/{short}"
    sign_in(nclient, "manager@shop.test")
    form = {"decision": "accepted", "note": "Loyal customer, let it go."}
    refused = _post(nclient, f"{page}/decision", form, page=page)
    assert refused.status_code == 409  # partially paid, still open: nothing to decide yet
    clock.advance(hours=25)
    tick(nsvc)
    assert _status(nsvc, short) == "underpaid"

    blank = _post(nclient, f"{page}/decision", {"decision": "accepted", "note": "  "}, page=page)
    assert blank.status_code in (400, 422)
    assert _post(nclient, f"{page}/decision", {"decision": "keep_it", "note": "x"}, page=page).status_code == 400
    answer = _post(nclient, f"{page}/decision", form, page=page)
    assert answer.status_code == 302
    with nsvc.uow() as uow:
        (kept,) = uow.session.execute(select(InvoiceDecision)).scalars().all()
        assert (kept.decision, kept.note, kept.user_email) == ("accepted", form["note"], "manager@shop.test")
        assert kept.created_at == clock.now()
    (event,) = [e for e in _events(nsvc, short) if e.type == "invoice.decision_recorded"]
    assert event.data is not None
    assert (event.data["decision"], event.data["note"], event.data["by"]) == ("accepted", form["note"],
                                                                               "manager@shop.test")
    html = nclient.get(page).get_data(as_text=True)
    assert "Accepted" in html and form["note"] in html and "by manager@shop.test" in html

    over = new_invoice(nsvc, merchant["store"])
    _, _, due = quote_of(nsvc, over, "SOL")
    pay(nsvc, over, amount=Decimal("1"))  # more than the 0.6666 SOL due
    over_page = f"/dashboard/stores/{merchant['store']}/invoices/{over}"
    with nsvc.uow() as uow:
        assert uow.session.execute(select(Invoice.overpaid).where(Invoice.number == over)).scalar_one()
    assert due == 666_600_000
    answer = _post(nclient, f"{over_page}/decision", {"decision": "refund_due", "note": "Refund 0.3334 SOL"},
                   page=over_page)
    assert answer.status_code == 302
    assert "Refund due" in nclient.get(over_page).get_data(as_text=True)


def test_a_viewer_cannot_decide_and_another_store_sees_nothing(nsvc, nclient, merchant, clock):
    number = new_invoice(nsvc, merchant["store"])
    pay(nsvc, number, amount=Decimal("0.3"))
    clock.advance(hours=25)
    tick(nsvc)
    page = f"/dashboard/stores/{merchant['store']}/invoices/{number}"
    sign_in(nclient, "viewer@shop.test")
    assert "Record decision" not in nclient.get(page).get_data(as_text=True)
    assert _post(nclient, f"{page}/decision", {"decision": "accepted", "note": "x"}, page=page).status_code == 403
    nclient.post("/dashboard/sign-out", data={"csrf_token": csrf_token(nclient, "/dashboard/")})
    sign_in(nclient, "outsider@other.test")
    assert nclient.get(page).status_code == 404
    with nsvc.uow() as uow:
        assert uow.session.execute(select(InvoiceDecision)).first() is None


def test_an_invoice_of_another_store_answers_404_under_this_store(nsvc, nclient, merchant):
    outsider = make_user(nsvc, "owner@second.test")
    with nsvc.uow() as uow:
        second = create_store_for(uow, nsvc.vault, outsider.id, name="Second", network="sandbox")
    foreign = new_invoice(nsvc, second.id)
    sign_in(nclient, "owner@shop.test")
    assert nclient.get(f"/dashboard/stores/{merchant['store']}/invoices/{foreign}").status_code == 404
    assert nclient.get(f"/dashboard/stores/{merchant['store']}/invoices/NOSUCH").status_code == 404
