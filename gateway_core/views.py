"""Read models: what callers of the core see of an invoice, computed inside the transaction."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from gateway_core.adapters.models import Invoice, Payment, Store
from gateway_core.domain import money
from gateway_core.domain.lifecycle import PaymentFacts, Status

COUNTED = ("matched", "late")


@dataclass(frozen=True)
class StoreSnapshot:
    """A store as creation reads it, frozen: safe to cache and share between threads (an ORM object is not)."""

    id: int
    name: str
    network: str
    settlement_mode: str
    platform_fee_percent: Decimal
    default_expiry_hours: int
    tron_xpub: str | None
    wallets: tuple[tuple[str, str], ...]  # (asset, address)
    underpayment_tolerance_percent: Decimal = Decimal(0)

    @classmethod
    def of(cls, store: Store) -> StoreSnapshot:
        return cls(store.id, store.name, store.network, store.settlement_mode, store.platform_fee_percent,
                   store.default_expiry_hours, store.tron_xpub, tuple((w.asset, w.address) for w in store.wallets),
                   store.underpayment_tolerance_percent)

    def wallet_for(self, asset_code: str) -> str | None:
        return next((address for asset, address in self.wallets if asset == asset_code), None)


@dataclass(frozen=True)
class QuoteView:
    asset: str
    chain: str
    address: str
    reference: str | None
    amount_due: int
    amount_paid: int
    rate: Decimal
    rate_currency: str
    # Quote locks (issue 18): where the rate came from, when, and until when this amount holds.
    rate_sources: tuple[str, ...] = ()
    rated_at: datetime | None = None
    locked_until: datetime | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.amount_due - self.amount_paid)

    def units(self, base: int) -> Decimal:
        return money.from_base_units(base, money.asset(self.asset))


@dataclass(frozen=True)
class PaymentView:
    tx_id: str
    asset: str
    amount: int
    block_time: datetime
    confirmations: int
    final: bool
    disposition: str
    # Quote locks (issue 18): the amount due it is measured against when not its quote's current one, whether it
    # paid a quote lapsed past its grace (flagged), and whether it still waits for a rate to be valued at.
    due_basis: int | None = None
    stale_quote: bool = False
    awaiting_rate: bool = False

    @property
    def counted(self) -> bool:
        """Whether it counts towards the invoice (a payment awaiting its valuation does not, yet)."""
        return self.disposition in COUNTED and not self.awaiting_rate


@dataclass(frozen=True)
class InvoiceView:
    number: str
    kind: str
    contract: str
    store_id: int
    store_name: str
    network: str
    settlement_mode: str
    platform_fee_percent: Decimal
    external_id: str | None
    platform: str | None
    status: Status
    overpaid: bool
    paid_late: bool
    amount_type: str
    price_currency: str
    price_amount: Decimal
    fiat_currency: str
    fiat_amount: Decimal
    description: str | None
    customer_email: str | None
    customer_name: str | None
    callback_url: str | None
    success_url: str | None
    cancel_url: str | None
    metadata: dict[str, Any] | None
    chosen_asset: str | None
    paid_asset: str | None
    payment_tx_id: str | None
    auto_process_tx_id: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    confirmed_at: datetime | None
    settled_at: datetime | None
    quotes: tuple[QuoteView, ...]
    payments: tuple[PaymentView, ...]
    progress: Fraction
    price_scale: int | None = None  # decimals the client wrote the price with (None: not kept)

    @property
    def display_quote(self) -> QuoteView:
        """The quote amounts are reported in: the asset paid, else the one chosen, else the primary."""
        for code in (self.paid_asset, self.chosen_asset):
            found = next((q for q in self.quotes if q.asset == code), None)
            if found:
                return found
        return self.quotes[0]

    @property
    def received_units(self) -> int:
        """Everything received, expressed in the display asset's base units (rounded down)."""
        quote = self.display_quote
        return int(self.progress * quote.amount_due)

    @property
    def remaining_units(self) -> int:
        return max(0, self.display_quote.amount_due - self.received_units)

    @property
    def progress_percent(self) -> Decimal:
        value = Decimal(self.progress.numerator) * 100 / Decimal(self.progress.denominator)
        return value.quantize(Decimal("0.01"), rounding=decimal.ROUND_DOWN)

    @property
    def confirmations(self) -> int:
        counted = [p.confirmations for p in self.payments if p.counted]
        return min(counted) if counted else 0

    def is_expired(self, now: datetime) -> bool:
        return self.status in (Status.EXPIRED, Status.UNDERPAID) or (
            self.status in (Status.PENDING, Status.PARTIALLY_PAID) and now >= self.expires_at
        )


def fiat_received(view: InvoiceView, dispositions: Sequence[str] = COUNTED) -> Decimal:
    """What the payments of these dispositions are worth in the invoice's fiat currency (its share of the amount
    due, rounded down to the currency's minor unit)."""
    if view.fiat_currency not in money.FIAT_EXPONENTS or view.fiat_amount is None:
        return Decimal(0)  # an invoice priced in crypto has no fiat amount to share out
    due = {q.asset: q.amount_due for q in view.quotes}
    share = sum((Fraction(p.amount, p.due_basis or due[p.asset]) for p in view.payments
                 if p.disposition in dispositions and not p.awaiting_rate and due.get(p.asset)), Fraction(0))
    minor = Fraction(money.fiat_to_minor(view.fiat_amount, view.fiat_currency)) * share
    return money.minor_to_fiat(minor.numerator // minor.denominator, view.fiat_currency)


def payment_facts(invoice: Invoice, now: datetime, store: Store | StoreSnapshot | None = None) -> PaymentFacts:
    """Fractions of the amount due seen and final, summed across assets (a buyer may mix SOL and USDC).

    `store`: the invoice's store when the caller has it already (a new invoice's, from its snapshot)."""
    due = {q.asset: q.amount_due for q in invoice.quotes}
    seen = final = Fraction(0)
    for p in _counted(invoice.payments, due):
        share = Fraction(p.amount, p.due_basis or due[p.asset])
        seen += share
        if p.final:
            final += share
    store = invoice.store if store is None else store
    return PaymentFacts(
        seen=seen,
        final=final,
        window_closed=now >= invoice.expires_at,
        tolerance=Fraction(store.underpayment_tolerance_percent) / 100,
        settle_on_confirm=store.settlement_mode == "direct",
    )


def _sources(text: str | None) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


def _lock(quote_expires: datetime, invoice_expires: datetime) -> datetime | None:
    """A quote's lock, when it ends before the invoice does (a volatile asset's); None: it holds for its life."""
    return quote_expires if quote_expires < invoice_expires else None


def _counted(payments: list[Payment], due: dict[str, int]) -> list[Payment]:
    return [p for p in payments if p.disposition in COUNTED and not p.awaiting_rate and due.get(p.asset)]


def invoice_view(invoice: Invoice, now: datetime, store: Store | StoreSnapshot | None = None) -> InvoiceView:
    """Snapshot of an invoice for rendering; call inside the transaction that loaded it.

    `store`: the invoice's store when the caller has it already (a new invoice's, from its snapshot)."""
    due = {q.asset: q.amount_due for q in invoice.quotes}
    paid: dict[str, int] = {}
    for p in _counted(invoice.payments, due):
        # A payment measured against a replaced quote counts as its share of the current amount.
        amount = p.amount if not p.due_basis else p.amount * due[p.asset] // p.due_basis
        paid[p.asset] = paid.get(p.asset, 0) + amount
    store = invoice.store if store is None else store
    if invoice.amount_type == "fiat":
        price = money.minor_to_fiat(invoice.price_units, invoice.price_currency)
    else:
        price = money.from_base_units(invoice.price_units, money.asset(invoice.price_currency))
    return InvoiceView(
        number=invoice.number,
        kind=invoice.kind,
        contract=invoice.contract,
        store_id=store.id,
        store_name=store.name,
        network=invoice.network,
        settlement_mode=store.settlement_mode,
        platform_fee_percent=store.platform_fee_percent,
        external_id=invoice.external_id,
        platform=invoice.platform,
        status=Status(invoice.status),
        overpaid=invoice.overpaid,
        paid_late=invoice.paid_late,
        amount_type=invoice.amount_type,
        price_currency=invoice.price_currency,
        price_amount=price,
        fiat_currency=invoice.fiat_currency,
        fiat_amount=money.minor_to_fiat(invoice.fiat_minor, invoice.fiat_currency),
        description=invoice.description,
        customer_email=invoice.customer_email,
        customer_name=invoice.customer_name,
        callback_url=invoice.callback_url,
        success_url=invoice.success_url,
        cancel_url=invoice.cancel_url,
        metadata=invoice.extra,
        chosen_asset=invoice.chosen_asset,
        paid_asset=invoice.paid_asset,
        payment_tx_id=invoice.payment_tx_id,
        auto_process_tx_id=invoice.auto_process_tx_id,
        created_at=invoice.created_at,
        updated_at=invoice.updated_at,
        expires_at=invoice.expires_at,
        paid_at=invoice.paid_at,
        confirmed_at=invoice.confirmed_at,
        settled_at=invoice.settled_at,
        quotes=tuple(
            QuoteView(q.asset, q.chain, q.address, q.reference, q.amount_due, paid.get(q.asset, 0), q.rate,
                      q.rate_currency, _sources(q.rate_sources), q.rated_at, _lock(q.expires_at, invoice.expires_at))
            for q in invoice.quotes
        ),
        payments=tuple(
            PaymentView(p.tx_id, p.asset, p.amount, p.block_time, p.confirmations, p.final, p.disposition,
                        p.due_basis, p.stale_quote, p.awaiting_rate)
            for p in invoice.payments
        ),
        progress=payment_facts(invoice, now, store).seen,
        price_scale=invoice.price_scale,
    )
