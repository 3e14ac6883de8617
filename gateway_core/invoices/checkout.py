"""The hosted payment page's use cases: the buyer's asset, a (sandbox) simulated payment, the store's contact."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Store
from gateway_core.checkout_view import CheckoutState, phase_of
from gateway_core.domain.errors import InvalidState, ValidationFailed
from gateway_core.domain.lifecycle import OPEN
from gateway_core.invoices.manage import choose_asset, public_invoice
from gateway_core.ports import Clock
from gateway_core.stores.branding import PAGE_BOX, LogoImage, logo_image
from gateway_core.views import InvoiceView

SIMULATE_MODES = ("full", "partial", "overpay")


def choose_payment_asset(uow: UnitOfWork, number: str, asset_code: str, clock: Clock) -> InvoiceView:
    """Remember the buyer's asset, while the invoice is still open for payment."""
    code = asset_code.strip().upper() if isinstance(asset_code, str) else ""
    view = public_invoice(uow, number, clock)
    if code not in {q.asset for q in view.quotes}:
        raise ValidationFailed("Asset not offered", errors={"asset": f"{code or asset_code!r} is not offered"})
    if view.status not in OPEN or view.is_expired(clock.now()):
        raise InvalidState(f"Invoice is {phase_of(view, clock.now()).value} and takes no more payments")
    return choose_asset(uow, number, code, clock)


def simulated_amount(state: CheckoutState, asset_code: str, mode: str) -> Decimal | None:
    """Sandbox control: the amount for a full (None: what remains), partial or over-payment in an asset."""
    if mode not in SIMULATE_MODES:
        raise ValidationFailed("Request validation failed", errors={"mode": "must be full, partial or overpay"})
    option = state.option(asset_code)
    if option is None:
        raise ValidationFailed("Asset not offered", errors={"asset": f"{asset_code} is not offered by this invoice"})
    if mode == "full":
        return None
    remaining = option.amount_remaining or option.amount_due
    if mode == "partial":
        return option.units(max(1, remaining // 2))
    return option.units(remaining + max(1, option.amount_due // 10))


@dataclass(frozen=True)
class StoreContact:
    """What the buyer may see of the store besides its name: how to reach it and its colour."""

    support_email: str | None
    website_url: str | None
    brand_color: str | None
    logo: LogoImage | None = None


def store_contact(uow: UnitOfWork, store_id: int) -> StoreContact:
    """The store's public contact details and look, for the pages that show the store to a buyer."""
    store = uow.session.get(Store, store_id)
    if store is None:
        return StoreContact(None, None, None)
    return StoreContact(store.support_email, store.website_url, store.brand_color,
                        logo_image(uow, store_id, PAGE_BOX))
