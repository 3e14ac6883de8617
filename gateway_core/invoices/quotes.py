"""Quote locks: a volatile asset's quote holds for QUOTE_LOCK_MINUTES; once it lapses, the next read of the
invoice (payment page, status API) quotes what is still due afresh, with a new Solana Pay reference. The quote
it replaces stays payable at its own amount until the grace after its lapse (payments.match_quote)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Quote
from gateway_core.adapters.rates.book import rates_for_network
from gateway_core.domain import money
from gateway_core.domain.errors import RateUnavailable
from gateway_core.domain.identifiers import new_solana_pubkey
from gateway_core.domain.lifecycle import Status
from gateway_core.payments.assess import emit, lock_invoice
from gateway_core.ports import Clock, RateSource
from gateway_core.views import InvoiceView

log = logging.getLogger(__name__)


def lapsed(view: InvoiceView, now: datetime) -> bool:
    """Whether an open, unpaid invoice shows a quote whose lock has lapsed (decided on the view already read)."""
    return view.status is Status.PENDING and not view.payments and now < view.expires_at and any(
        q.locked_until is not None and q.locked_until <= now for q in view.quotes)


def requote_lapsed(uow: UnitOfWork, number: str, rates: RateSource, clock: Clock, grace: timedelta) -> bool:
    """Re-quote the lapsed quotes of an unpaid, open, fiat-priced invoice; True if any changed.

    Cheap when nothing lapsed (one indexed read); under the invoice's lock otherwise, so two readers re-quote once.
    """
    now = clock.now()
    session = uow.session
    lapsed = session.execute(
        select(Quote.invoice_id).join(Invoice)
        .where(Invoice.number == number, Invoice.status == Status.PENDING.value, Invoice.amount_type == "fiat",
               Invoice.expires_at > now, Quote.expires_at <= now, Quote.expires_at < Invoice.expires_at)
        .limit(1)
    ).first()
    if lapsed is None:
        return False
    invoice = lock_invoice(session, lapsed.invoice_id)
    if invoice.status != Status.PENDING.value or any(p.disposition in ("matched", "late") for p in invoice.payments):
        return False
    source = rates_for_network(rates, invoice.network)
    value = money.minor_to_fiat(invoice.fiat_minor, invoice.fiat_currency)
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
        quote.prior_reference, quote.prior_amount_due, quote.prior_rate = quote.reference, quote.amount_due, quote.rate
        quote.prior_honoured_until = quote.expires_at + grace
        quote.amount_due = money.value_to_base_units(value, fresh.rate, money.asset(quote.asset))
        quote.rate, quote.rate_sources, quote.rated_at = fresh.rate, ",".join(fresh.sources), fresh.at
        quote.reference = new_solana_pubkey() if quote.reference else None
        quote.expires_at = min(invoice.expires_at, now + fresh.lock) if fresh.lock else invoice.expires_at
        changed.append(quote.asset)
    if changed:
        invoice.updated_at = now
        emit(session, invoice, "invoice.requoted", now, assets=changed)
    return bool(changed)
