"""Two workers that read the same in-flight payment before either acts on it must not act twice."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from gateway_core.adapters.models import Event, Invoice, Payment, Store
from gateway_core.bootstrap import Services
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.payments.transfers import _apply_finality
from gateway_core.ports import TxFinality
from tests.conftest import tick


def test_a_drop_judged_by_two_workers_is_recorded_once(services: Services, store, clock) -> None:
    services.chains["sandbox"]._finality = 30  # paid now, final later: the payment is in flight
    with services.uow() as uow:
        view = create_invoice(uow, uow.session.get(Store, store.id), InvoiceRequest(amount=Decimal("10")),
                              services.invoicing).view
    with services.uow() as uow:
        transfer = simulate_payment(uow, view.number, clock, "USDC")
    tick(services)
    with services.uow() as uow:
        invoice = uow.session.execute(sa.select(Invoice).where(Invoice.number == view.number)).scalar_one()
        invoice_id, payment_id = invoice.id, invoice.payments[0].id
        assert invoice.status == "paid"
    dropped = {transfer.tx_id: TxFinality(confirmations=0, final=False, exists=False)}
    # Both workers listed the payment as in flight; each applies what the chain told it, one after the other.
    for _ in range(2):
        with services.uow() as uow:
            _apply_finality(uow.session, invoice_id, [payment_id], dropped, clock.now())
    with services.uow() as uow:
        types = uow.session.execute(sa.select(Event.type).where(Event.invoice_id == invoice_id)
                                    .order_by(Event.id)).scalars().all()
        assert types.count("invoice.payment_dropped") == 1
        assert uow.session.get(Payment, payment_id).disposition == "dropped"
