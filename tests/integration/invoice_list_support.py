"""A store with invoices of every kind the list filters on, made through the core's own paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest, cancel_invoice, choose_asset, get_invoice
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import find_store
from gateway_core.views import InvoiceView
from tests.conftest import tick

CONTRACTS = ("voltxt", "virtexgate", "veltpay", "venta")
PLATFORMS = ("woocommerce", "saleor", None)
COUNT = 56  # more than a dashboard page (50)


@dataclass(frozen=True)
class Made:
    """The invoices, newest first, as their own page (get_invoice) reads them: the truth the list is held to."""

    store_id: int
    views: list[InvoiceView]

    def numbers(self, keep: Callable[[InvoiceView], bool] = lambda v: True) -> list[str]:
        return [v.number for v in self.views if keep(v)]


def _email(i: int) -> str | None:
    return None if i % 9 == 4 else f"{'Buyer' if i % 2 else 'buyer'}{i % 6}@Shop{i % 2}.test"


def _external(i: int) -> str | None:
    return None if i % 10 == 9 else (f"order-{i:03d}" if i % 3 else f"Ord-{i:03d}")


def make_invoices(services: Services, clock: FrozenClock, store_id: int, count: int = COUNT,
                  settle: bool = True) -> Made:
    """`count` invoices five hours apart (every fifth at the same moment as the one before: ties on time),
    over four contracts and three platforms; with `settle`, some cancelled, some paid in SOL or USDC (and the
    worker's tick run), some with USDT chosen."""
    numbers = []
    with services.uow() as uow:
        store = find_store(uow, store_id)
        for i in range(count):
            if i % 5:
                clock.advance(hours=5)
            request = InvoiceRequest(amount=Decimal(10 + i), external_id=_external(i), customer_email=_email(i),
                                     contract=CONTRACTS[i % 4], platform=PLATFORMS[i % 3])
            numbers.append(create_invoice(uow, store, request, services.invoicing).view.number)
    for i, number in enumerate(numbers if settle else ()):
        with services.uow() as uow:
            if i % 7 == 0:
                cancel_invoice(uow, find_store(uow, store_id), number, clock)
            elif i % 5 == 1:
                simulate_payment(uow, number, clock, "SOL" if i % 2 else "USDC")
            elif i % 5 == 2:
                choose_asset(uow, number, "USDT", clock)
    if settle:
        tick(services)
    with services.uow() as uow:
        store = find_store(uow, store_id)
        views = [get_invoice(uow, store, number, clock) for number in reversed(numbers)]
    return Made(store_id, views)


def listed_asset(view: InvoiceView) -> str | None:
    return view.paid_asset or view.chosen_asset
