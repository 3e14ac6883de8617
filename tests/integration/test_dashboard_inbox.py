# ruff: noqa: F811 - pytest fixtures are imported from notify_support and used as arguments
"""The inbox (issue 22): payments that paid no invoice, kept, and attached to one by a manager."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from gateway_core.accounts.members import create_store_for
from gateway_core.adapters.models import Delivery, Event, Invoice, Payment, PaymentAttachment, SandboxTransfer
from gateway_core.domain.errors import InvalidState, PaymentNotFound, ValidationFailed
from gateway_core.domain.identifiers import new_solana_pubkey, new_solana_signature
from gateway_core.payments.inbox import PAGE_SIZE, attach_payment, inbox
from tests.conftest import tick
from tests.integration.dashboard_support import csrf_token, make_user, sign_in, staffed_store
from tests.integration.invoice_page_support import (
    ledger_transfer,
    new_invoice,
    payment_by_tx,
    quote_of,
    unmatched_payment,
    wallet_of,
)
from tests.integration.notify_support import (  # noqa: F401 - fixtures
    configure,
    deliveries,
    napp,
    nclient,
    nsettings,
    nsvc,
    receiver,
)


@pytest.fixture
def merchant(nsvc, receiver) -> dict[str, Any]:
    """A sandbox store (shared wallets, a store webhook) with an owner, a manager and a viewer; two open invoices."""
    store = staffed_store(nsvc)
    configure(nsvc, store.id, webhook_url=receiver.url("/store"))
    first, second = new_invoice(nsvc, store.id), new_invoice(nsvc, store.id)
    return {"store": store.id, "first": first, "second": second}


def _attach(client: Any, store_id: int, payment_id: int, number: str) -> Any:
    token = csrf_token(client, f"/dashboard/stores/{store_id}/inbox")
    return client.post(f"/dashboard/stores/{store_id}/inbox/{payment_id}/attach",
                       data={"csrf_token": token, "invoice": number})


def _invoice(nsvc, number: str) -> tuple[str, list[str]]:
    with nsvc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        types = uow.session.execute(select(Event.type).where(Event.invoice_id == invoice.id)
                                    .order_by(Event.id)).scalars().all()
        return invoice.status, list(types)


def test_an_unmatched_payment_waits_in_the_inbox_and_a_manager_attaches_it(nsvc, nclient, merchant):
    payment_id = unmatched_payment(nsvc, merchant["store"])  # 0.6666 SOL, no reference, into the shared wallet
    assert _invoice(nsvc, merchant["first"]) == ("pending", ["invoice.created"])  # it paid nothing by itself
    inbox_page = f"/dashboard/stores/{merchant['store']}/inbox"

    sign_in(nclient, "viewer@shop.test")
    html = nclient.get(inbox_page).get_data(as_text=True)
    assert "Named no invoice" in html and "0.6666 SOL" in html and 'name="invoice"' not in html
    assert _attach(nclient, merchant["store"], payment_id, merchant["first"]).status_code == 403
    nclient.post("/dashboard/sign-out", data={"csrf_token": csrf_token(nclient, "/dashboard/")})

    sign_in(nclient, "manager@shop.test")
    answer = _attach(nclient, merchant["store"], payment_id, merchant["first"])
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/invoices/{merchant['first']}?done=attached")
    # As if the watcher had matched it: paid, then final on the sandbox, so confirmed and settled.
    status, types = _invoice(nsvc, merchant["first"])
    assert status == "settled"
    assert types == ["invoice.created", "invoice.payment_attached", "invoice.paid", "invoice.confirmed",
                     "invoice.settled"]
    with nsvc.uow() as uow:
        payment = uow.session.get(Payment, payment_id)
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == merchant["first"])).scalar_one()
        assert payment is not None and payment.invoice_id == invoice.id and payment.disposition == "matched"
        assert invoice.payment_tx_id == payment.tx_id and invoice.paid_asset == "SOL"
        (attached,) = uow.session.execute(select(PaymentAttachment)).scalars().all()
        assert (attached.payment_id, attached.invoice_id, attached.user_email, attached.from_disposition) == (
            payment_id, invoice.id, "manager@shop.test", "unmatched")
        assert attached.created_at == nsvc.clock.now()
        events = {e.type: e.event_id for e in uow.session.execute(
            select(Event).where(Event.invoice_id == invoice.id)).scalars()}
        outbox = uow.session.execute(select(Delivery.event_id, Delivery.event_type, Delivery.channel)
                                     .where(Delivery.invoice_number == invoice.number)).all()
    # The outbox rows came with the status change, exactly as for a matched payment.
    assert {(row.event_type, row.channel) for row in outbox} == {("payment_received", "store"),
                                                                ("payment_completed", "store")}
    assert {row.event_id for row in outbox} == {events["invoice.paid"], events["invoice.confirmed"]}

    page = nclient.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Payment attached to this invoice." in page and "attached from the inbox by manager@shop.test" in page
    assert "Nothing waiting" in nclient.get(inbox_page).get_data(as_text=True)  # it left the inbox
    again = _attach(nclient, merchant["store"], payment_id, merchant["second"])
    assert again.status_code == 409 and "attached already" in again.get_data(as_text=True)
    assert _invoice(nsvc, merchant["second"]) == ("pending", ["invoice.created"])


def test_a_wrong_asset_payment_is_attached_to_the_quote_in_its_asset(nsvc, nclient, merchant):
    address, reference, _ = quote_of(nsvc, merchant["second"], "SOL")
    _, _, usdc_due = quote_of(nsvc, merchant["second"], "USDC")
    # USDC sent with the SOL quote's reference, to the SOL address: the watcher keeps it as wrong_asset.
    tx_id = ledger_transfer(nsvc, address, "USDC", usdc_due, reference=reference)
    payment = payment_by_tx(nsvc, tx_id)
    assert payment.disposition == "wrong_asset"
    assert _invoice(nsvc, merchant["second"]) == ("pending", ["invoice.created", "invoice.wrong_asset_payment"])
    sign_in(nclient, "manager@shop.test")
    html = nclient.get(f"/dashboard/stores/{merchant['store']}/inbox").get_data(as_text=True)
    assert f"Wrong asset for invoice {merchant['second']}" in html
    assert _attach(nclient, merchant["store"], payment.id, merchant["second"]).status_code == 302
    status, types = _invoice(nsvc, merchant["second"])
    assert status == "settled" and types[-4:] == ["invoice.payment_attached", "invoice.paid", "invoice.confirmed",
                                                  "invoice.settled"]
    with nsvc.uow() as uow:
        attached = uow.session.execute(select(PaymentAttachment)).scalar_one()
        assert attached.from_disposition == "wrong_asset"


def test_attaching_is_refused_without_losing_the_payment(nsvc, merchant):
    payment_id = unmatched_payment(nsvc, merchant["store"])
    outsider = make_user(nsvc, "owner@second.test")
    with nsvc.uow() as uow:
        second = create_store_for(uow, nsvc.vault, outsider.id, name="Second", network="sandbox")
    foreign = new_invoice(nsvc, second.id)
    crypto = new_invoice(nsvc, merchant["store"], amount="5", amount_type="crypto", currency="USDC",
                         assets=("USDC",))
    with nsvc.uow() as uow:
        store = uow.session.execute(select(Invoice).where(Invoice.number == merchant["first"])).scalar_one().store
        for number, error in ((foreign, "INVOICE_NOT_FOUND"), (crypto, ValidationFailed.code)):
            with pytest.raises(Exception) as caught:
                attach_payment(uow, store, payment_id, number, 1, "manager@shop.test", nsvc.clock, nsvc.quoting)
            assert getattr(caught.value, "code", None) == error, number
    with nsvc.uow() as uow:
        other = uow.session.execute(select(Invoice).where(Invoice.number == foreign)).scalar_one().store
        with pytest.raises(PaymentNotFound):  # not the second store's payment (not its wallet)
            attach_payment(uow, other, payment_id, foreign, 1, "owner@second.test", nsvc.clock, nsvc.quoting)
        assert [i.payment_id for i in inbox(uow, store).items] == [payment_id]  # still there, untouched
        assert inbox(uow, other).items == []
        assert uow.session.execute(select(PaymentAttachment)).first() is None
    with nsvc.uow() as uow:
        store = uow.session.execute(select(Invoice).where(Invoice.number == merchant["first"])).scalar_one().store
        attach_payment(uow, store, payment_id, merchant["first"], 1, "manager@shop.test", nsvc.clock, nsvc.quoting)
    with nsvc.uow() as uow, pytest.raises(InvalidState):
        store = uow.session.execute(select(Invoice).where(Invoice.number == merchant["first"])).scalar_one().store
        attach_payment(uow, store, payment_id, merchant["second"], 1, "manager@shop.test", nsvc.clock, nsvc.quoting)


def test_another_store_sees_no_inbox_and_cannot_attach(nsvc, nclient, merchant):
    payment_id = unmatched_payment(nsvc, merchant["store"])
    sign_in(nclient, "outsider@other.test")
    assert nclient.get(f"/dashboard/stores/{merchant['store']}/inbox").status_code == 404
    token = csrf_token(nclient, "/dashboard/")
    answer = nclient.post(f"/dashboard/stores/{merchant['store']}/inbox/{payment_id}/attach",
                          data={"csrf_token": token, "invoice": merchant["first"]})
    assert answer.status_code == 404
    assert payment_by_tx(nsvc, _tx(nsvc, payment_id)).invoice_id is None


def _tx(nsvc, payment_id: int) -> str:
    with nsvc.uow() as uow:
        payment = uow.session.get(Payment, payment_id)
        assert payment is not None
        return payment.tx_id


def test_a_deposit_invoice_takes_only_payments_to_its_own_address(nsvc, merchant):
    address, reference, _ = quote_of(nsvc, merchant["second"], "SOL")
    usdc_address, _, usdc_due = quote_of(nsvc, merchant["second"], "USDC")
    assert usdc_address != address
    payment = payment_by_tx(nsvc, ledger_transfer(nsvc, address, "USDC", usdc_due, reference=reference))
    configure(nsvc, merchant["store"], settlement_mode="deposit")  # settled by sweeping the quote's address
    with nsvc.uow() as uow, pytest.raises(ValidationFailed, match="deposit address"):
        store = uow.session.execute(select(Invoice).where(Invoice.number == merchant["second"])).scalar_one().store
        attach_payment(uow, store, payment.id, merchant["second"], 1, "manager@shop.test", nsvc.clock, nsvc.quoting)
    with nsvc.uow() as uow:
        assert [i.payment_id for i in inbox(uow, store).items] == [payment.id]


def test_the_inbox_pages_by_keyset_when_it_holds_more_than_a_page(nsvc, nclient, merchant):
    """PAGE_SIZE + 2 unmatched payments (one watcher tick sees them all): two pages, older and back to newer."""
    wallet = wallet_of(nsvc, merchant["store"], "SOL")
    with nsvc.uow() as uow:
        uow.session.add_all(SandboxTransfer(tx_id=new_solana_signature(), asset="SOL", from_address=new_solana_pubkey(),
                                            to_address=wallet, amount=1000 + n, created_at=nsvc.clock.now())
                            for n in range(PAGE_SIZE + 2))
    tick(nsvc)
    with nsvc.uow() as uow:
        ids = sorted(uow.session.execute(select(Payment.id).where(Payment.disposition == "unmatched")).scalars(),
                     reverse=True)
    assert len(ids) == PAGE_SIZE + 2
    sign_in(nclient, "viewer@shop.test")
    base = f"/dashboard/stores/{merchant['store']}/inbox"

    def shown(url: str) -> tuple[list[int], dict[str, str]]:
        answer = nclient.get(url)
        assert answer.status_code == 200
        html = answer.get_data(as_text=True)
        links = dict(re.findall(r'<a rel="(prev|next)" href="([^"]+)"', html))
        return [int(n) for n in re.findall(r'<tr id="payment-(\d+)"', html)], links

    first, links = shown(base)
    assert first == ids[:PAGE_SIZE] and set(links) == {"next"}
    second, links = shown(links["next"])
    assert second == ids[PAGE_SIZE:] and set(links) == {"prev"}
    back, links = shown(links["prev"])
    assert back == ids[:PAGE_SIZE] and set(links) == {"next"}
    assert shown(f"{base}?after=nonsense")[0] == first  # a cursor this page never wrote: the newest page
