"""The buyer's view of an invoice: what the hosted payment page shows (its choices: invoices/checkout.py).

Display-safe by construction: nothing here carries customer data, store settings or URLs, so the page's
public status endpoint can serialise it as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from gateway_core.adapters.chains.sandbox import REQUIRED_CONFIRMATIONS
from gateway_core.domain import money
from gateway_core.domain.lifecycle import Status
from gateway_core.views import InvoiceView

# Confirmations after which each chain calls a transfer final (shown as "n of N" while confirming).
CONFIRMATIONS_TARGET = {"sandbox": REQUIRED_CONFIRMATIONS, "solana": 32, "tron": 19}


class Phase(StrEnum):
    """What the buyer is looking at; more detailed than the lifecycle where the page needs it."""

    CHOOSE = "choose"  # open, no asset picked yet (VirtexGate: New)
    AWAITING = "awaiting"  # open, asset picked, nothing seen (VirtexGate: Waiting)
    PARTIAL = "partial"  # part of the amount seen, window open
    CONFIRMING = "confirming"  # full amount seen, not final yet
    PAID = "paid"  # final: the buyer goes back to the store
    EXPIRED = "expired"
    UNDERPAID = "underpaid"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PayOption:
    """One asset the buyer can pay in: where to send it and how much (the remainder once part is paid)."""

    asset: str
    chain: str
    decimals: int
    address: str
    reference: str | None
    amount_due: int
    amount_remaining: int
    # The quote behind the amount (issue 18): its rate, sources, and when it lapses (None: with the invoice).
    rate: Decimal = Decimal(0)
    rate_currency: str = ""
    rate_sources: tuple[str, ...] = ()
    locked_until: datetime | None = None

    def units(self, base: int) -> Decimal:
        return money.from_base_units(base, money.asset(self.asset))


@dataclass(frozen=True)
class CheckoutState:
    number: str
    kind: str
    network: str
    status: Status
    phase: Phase
    chosen_asset: str | None
    display_asset: str
    amount_due: int  # in the display asset's base units
    amount_paid: int
    amount_remaining: int
    progress_percent: Decimal
    confirmations: int
    confirmations_target: int
    expires_at: datetime
    overpaid: bool
    paid_late: bool
    options: tuple[PayOption, ...]

    def option(self, asset_code: str) -> PayOption | None:
        return next((o for o in self.options if o.asset == asset_code), None)

    @property
    def display(self) -> PayOption:
        found = self.option(self.display_asset)
        assert found is not None  # the display asset is always one of the invoice's quotes
        return found


def phase_of(view: InvoiceView, now: datetime) -> Phase:
    """The page's phase: an open invoice whose window has closed is shown expired before the worker runs."""
    status = view.status
    if status in (Status.CONFIRMED, Status.SETTLED):
        return Phase.PAID
    if status is Status.PAID:
        return Phase.CONFIRMING
    if status is Status.CANCELLED:
        return Phase.CANCELLED
    if status is Status.UNDERPAID or (status is Status.PARTIALLY_PAID and now >= view.expires_at):
        return Phase.UNDERPAID
    if status is Status.EXPIRED or now >= view.expires_at:
        return Phase.EXPIRED
    if status is Status.PARTIALLY_PAID:
        return Phase.PARTIAL
    return Phase.AWAITING if view.chosen_asset else Phase.CHOOSE


def _remaining(progress: Fraction, due: int) -> int:
    """What is still owed in an asset, rounded up so the remainder never falls short."""
    owed = 1 - progress
    return math.ceil(owed * due) if owed > 0 else 0


def checkout_state(view: InvoiceView, now: datetime) -> CheckoutState:
    """The display-safe state of an invoice for the hosted page and its status endpoints."""
    display = view.display_quote
    options = tuple(
        PayOption(q.asset, money.asset(q.asset).chain, money.asset(q.asset).decimals, q.address, q.reference,
                  q.amount_due, _remaining(view.progress, q.amount_due), q.rate, q.rate_currency, q.rate_sources,
                  q.locked_until)
        for q in view.quotes
    )
    chain = "sandbox" if view.network == "sandbox" else money.asset(display.asset).chain
    return CheckoutState(
        number=view.number,
        kind=view.kind,
        network=view.network,
        status=view.status,
        phase=phase_of(view, now),
        chosen_asset=view.chosen_asset,
        display_asset=display.asset,
        amount_due=display.amount_due,
        amount_paid=view.received_units,
        amount_remaining=_remaining(view.progress, display.amount_due),
        progress_percent=view.progress_percent,
        confirmations=view.confirmations,
        confirmations_target=CONFIRMATIONS_TARGET.get(chain, 32),
        expires_at=view.expires_at,
        overpaid=view.overpaid,
        paid_late=view.paid_late,
        options=options,
    )
