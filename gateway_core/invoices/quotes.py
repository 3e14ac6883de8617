"""Quote locks: a volatile asset's quote holds for QUOTE_LOCK_MINUTES; once it lapses on an open invoice, the next
read of the invoice (payment page, any status API) quotes what is still due afresh, with a new Solana Pay
reference. The quote it replaces stays payable at its own amount until the grace after its lapse
(payments/valuation.py).

Only fiat-priced invoices are re-quoted. A crypto-priced invoice's amount is fixed in the asset the merchant
chose: the buyer owes exactly that whatever the market does, so there is no rate to refresh and no lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Quote
from gateway_core.adapters.rates.book import rates_for_network
from gateway_core.domain import money
from gateway_core.domain.errors import RateUnavailable
from gateway_core.domain.identifiers import new_solana_pubkey
from gateway_core.domain.lifecycle import OPEN, Status
from gateway_core.payments.assess import emit, lock_invoice
from gateway_core.payments.valuation import Quoting
from gateway_core.ports import Clock
from gateway_core.views import COUNTED, InvoiceView, invoice_view

log = logging.getLogger(__name__)
_OPEN = [s.value for s in OPEN]


def lapsed(view: InvoiceView, now: datetime) -> bool:
    """Whether an open (unpaid or part-paid) fiat-priced invoice shows a quote whose lock has lapsed."""
    return view.status in OPEN and view.amount_type == "fiat" and now < view.expires_at and any(
        q.locked_until is not None and q.locked_until <= now for q in view.quotes)


def current_view(uow_factory: Callable[[], UnitOfWork], view: InvoiceView, quoting: Quoting,
                 clock: Clock) -> InvoiceView:
    """The invoice as a reader should see it: its lapsed quotes re-quoted first. Every read of the payment page
    and of each contract's status API passes its view through here, after its own transaction.

    Free when nothing lapsed (decided on the view already read); otherwise one short write transaction of
    its own, so a read-only reader stays read-only, and under the invoice's lock, so two readers re-quote once.
    """
    if not lapsed(view, clock.now()):
        return view
    with uow_factory() as uow:
        invoice = requote_lapsed(uow, view.number, quoting, clock)
        return invoice_view(invoice, clock.now()) if invoice is not None else view


def requote_lapsed(uow: UnitOfWork, number: str, quoting: Quoting, clock: Clock) -> Invoice | None:
    """Re-quote the lapsed quotes of an open fiat-priced invoice for the amount still due; the invoice as it now
    stands (None if it has no lapsed quote any more, e.g. it closed or another reader re-quoted it)."""
    now = clock.now()
    session = uow.session
    found = session.execute(
        select(Quote.invoice_id).join(Invoice)
        .where(Invoice.number == number, Invoice.status.in_(_OPEN), Invoice.amount_type == "fiat",
               Invoice.expires_at > now, Quote.expires_at <= now, Quote.expires_at < Invoice.expires_at)
        .limit(1)
    ).first()
    if found is None:
        return session.execute(select(Invoice).where(Invoice.number == number)).scalar_one_or_none()
    invoice = lock_invoice(session, found.invoice_id)
    if Status(invoice.status) not in OPEN:
        return invoice
    source = rates_for_network(quoting.rates, invoice.network)
    whole = money.minor_to_fiat(invoice.fiat_minor, invoice.fiat_currency)
    changed = []
    for quote in invoice.quotes:
        if quote.expires_at > now or quote.expires_at >= invoice.expires_at:
            continue
        try:
            fresh = source.quote(quote.asset, quote.rate_currency)
        except RateUnavailable as exc:  # the page keeps showing the lapsed quote; the next read tries again
            log.warning("re-quote failed", extra={"invoice": invoice.number, "asset": quote.asset,
                                                  "reason": exc.message})
            continue
        # What is still due is the invoice's value less what was paid: each payment keeps the share it was
        # measured at, and the quote's amount becomes the whole at the fresh rate, so what it shows as
        # remaining is exactly what is still due, at that rate.
        for payment in invoice.payments:
            if payment.asset == quote.asset and payment.disposition in COUNTED and not payment.due_basis \
                    and not payment.awaiting_rate:
                payment.due_basis = quote.amount_due
        quote.prior_reference, quote.prior_amount_due, quote.prior_rate = quote.reference, quote.amount_due, quote.rate
        quote.prior_honoured_until = quote.expires_at + quoting.grace
        quote.amount_due = money.value_to_base_units(whole, fresh.rate, money.asset(quote.asset))
        quote.rate, quote.rate_sources, quote.rated_at = fresh.rate, ",".join(fresh.sources), fresh.at
        quote.reference = new_solana_pubkey() if quote.reference else None
        quote.expires_at = min(invoice.expires_at, now + fresh.lock) if fresh.lock else invoice.expires_at
        changed.append(quote.asset)
    if changed:
        invoice.updated_at = now
        emit(session, invoice, "invoice.requoted", now, assets=changed)
    return invoice
