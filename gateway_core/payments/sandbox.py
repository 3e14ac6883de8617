"""Paying sandbox invoices without a blockchain: transfers go into the sandbox ledger, the watcher does the rest."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, SandboxTransfer
from gateway_core.domain import money
from gateway_core.domain.errors import InvoiceNotFound, ValidationFailed
from gateway_core.domain.identifiers import new_solana_pubkey, new_solana_signature, new_tron_address
from gateway_core.ports import Clock


@dataclass(frozen=True)
class SimulatedTransfer:
    tx_id: str
    asset: str
    amount: int
    to_address: str


def simulate_payment(
    uow: UnitOfWork, number: str, clock: Clock, asset_code: str | None = None, amount: Decimal | None = None
) -> SimulatedTransfer:
    """Add a transfer to the sandbox ledger for this invoice; the amount defaults to what is still due."""
    invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one_or_none()
    if invoice is None or invoice.network != "sandbox":
        raise InvoiceNotFound("Invoice with given number not found on the sandbox network")
    code = (asset_code or invoice.chosen_asset or invoice.quotes[0].asset).upper()
    quote = invoice.quote_for(code)
    if quote is None:
        raise ValidationFailed("Asset not offered", errors={"asset": f"{code} is not offered by this invoice"})
    asset = money.asset(code)
    if amount is None:
        # What is still due across every asset sent so far (the ledger, including transfers the watcher has
        # not seen yet), in this asset, rounded up; the whole amount once nothing is due.
        owed = 1 - _sent(uow, invoice)
        units = math.ceil(owed * quote.amount_due) if owed > 0 else quote.amount_due
    else:
        try:
            units = money.to_base_units(amount, asset)
        except money.MoneyError as exc:
            raise ValidationFailed("Invalid amount", errors={"amount": str(exc)}) from None
        if units <= 0:
            raise ValidationFailed("Invalid amount", errors={"amount": "must be greater than zero"})
    tron = asset.chain == "tron"
    transfer = SandboxTransfer(
        tx_id=secrets.token_hex(32) if tron else new_solana_signature(),
        asset=code,
        from_address=new_tron_address() if tron else new_solana_pubkey(),
        to_address=quote.address,
        amount=units,
        reference=quote.reference,
        created_at=clock.now(),
    )
    uow.session.add(transfer)
    return SimulatedTransfer(transfer.tx_id, code, units, quote.address)


def _sent(uow: UnitOfWork, invoice: Invoice) -> Fraction:
    """Fraction of the invoice already sent on the sandbox ledger, across assets."""
    quotes = {q.reference: q for q in invoice.quotes}
    rows = uow.session.execute(
        select(SandboxTransfer.reference, SandboxTransfer.asset, SandboxTransfer.amount)
        .where(SandboxTransfer.reference.in_(list(quotes)))
    ).all()
    return sum((Fraction(amount, quotes[ref].amount_due) for ref, asset, amount in rows
                if quotes[ref].asset == asset), Fraction(0))
