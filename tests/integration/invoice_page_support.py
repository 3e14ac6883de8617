"""Helpers for the invoice page and inbox tests: invoices made through the core, transfers on the sandbox ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from gateway_core.adapters.models import Invoice, Payment, SandboxTransfer, Store
from gateway_core.bootstrap import Services
from gateway_core.domain import money
from gateway_core.domain.identifiers import new_solana_pubkey, new_solana_signature
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from tests.conftest import tick


def new_invoice(svc: Services, store_id: int, amount: str = "99.99", **fields: Any) -> str:
    """An invoice of the store, created through the core's one creation path; returns its number."""
    with svc.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None
        request = InvoiceRequest(amount=Decimal(amount), **fields)
        return create_invoice(uow, store, request, svc.invoicing).view.number


def quote_of(svc: Services, number: str, asset: str) -> tuple[str, str | None, int]:
    """The invoice's quote in `asset`: its address, reference and amount due (base units)."""
    with svc.uow() as uow:
        invoice = uow.session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        quote = invoice.quote_for(asset)
        assert quote is not None
        return quote.address, quote.reference, quote.amount_due


def wallet_of(svc: Services, store_id: int, asset: str) -> str:
    with svc.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None
        address = store.wallet_for(asset)
        assert address is not None
        return address


def ledger_transfer(svc: Services, to_address: str, asset: str, units: int, reference: str | None = None) -> str:
    """A transfer on the sandbox ledger (as a wallet or an exchange would send it), seen by the next tick."""
    tx_id = new_solana_signature()
    with svc.uow() as uow:
        uow.session.add(SandboxTransfer(tx_id=tx_id, asset=asset, from_address=new_solana_pubkey(),
                                        to_address=to_address, amount=units, reference=reference,
                                        created_at=svc.clock.now()))
    tick(svc)
    return tx_id


def payment_by_tx(svc: Services, tx_id: str) -> Payment:
    with svc.uow() as uow:
        payment = uow.session.execute(select(Payment).where(Payment.tx_id == tx_id)).scalar_one()
        uow.session.expunge(payment)
        return payment


def unmatched_payment(svc: Services, store_id: int, sol: str = "0.6666") -> int:
    """A SOL transfer into the store's shared wallet naming no invoice (an exchange withdrawal): its payment id.

    The store must have two open invoices or more, so the wallet cannot tell which one it pays.
    """
    units = money.to_base_units(Decimal(sol), money.asset("SOL"))
    tx_id = ledger_transfer(svc, wallet_of(svc, store_id, "SOL"), "SOL", units)
    payment = payment_by_tx(svc, tx_id)
    assert payment.disposition == "unmatched" and payment.invoice_id is None
    return payment.id
