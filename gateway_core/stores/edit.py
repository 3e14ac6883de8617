"""Editing a store after creation: its name, pricing terms, language, settlement mode, TRON xpub and wallets.

Wallets go through set_wallet, the same check as `voltbridge store set --wallet`: new invoices pay the new
address, open invoices keep the address they quoted (it is stored on the invoice). Every change is checked
before any is made, in the caller's transaction: all or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.i18n import checked_language
from gateway_core.adapters.models import Store
from gateway_core.domain.errors import ValidationFailed, said
from gateway_core.payments.tron_deposits import check_xpub
from gateway_core.stores.manage import (
    INVALID_SETTLEMENT_MODE,
    INVALID_STORE_NAME,
    SETTLEMENT_MODE_CHOICES,
    SETTLEMENT_MODES,
    STORE_NAME_LENGTH,
    _check_name_free,
    find_store,
    set_wallet,
)

MAX_EXPIRY_HOURS = 24 * 30


@dataclass(frozen=True)
class StoreChanges:
    """What to change (None: leave as it is). tron_xpub "" removes it."""

    name: str | None = None
    settlement_mode: str | None = None
    platform_fee_percent: Decimal | None = None
    underpayment_tolerance_percent: Decimal | None = None
    default_expiry_hours: int | None = None
    tron_xpub: str | None = None
    language: str | None = None  # of the store's emails: a language the locale folder has
    wallets: Mapping[str, str] | None = None

    def touches_wallets(self) -> bool:
        """Wallets and the xpub decide where money goes: owners only."""
        return bool(self.wallets) or self.tron_xpub is not None


def _percent(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or not Decimal("0") <= value <= Decimal("100"):
        raise ValidationFailed(said("invalid_percentage", "Invalid percentage"),
                               errors={field: said("d_range", "0 to 100", low=0, high=100)})
    return value


def update_store(uow: UnitOfWork, store_id: int, changes: StoreChanges, *, allow_off_curve: bool = False,
                 usdc_mints: Mapping[str, str] | None = None) -> Store:
    """Apply `changes` to the store (ValidationFailed, with the field, for a bad value; nothing changed then)."""
    store = find_store(uow, store_id)
    if changes.name is not None:
        name = changes.name.strip()
        if not name or len(name) > 200:
            raise ValidationFailed(INVALID_STORE_NAME, errors={"name": STORE_NAME_LENGTH})
        if name != store.name:
            _check_name_free(uow, name, store.id)
        store.name = name
    if changes.settlement_mode is not None:
        if changes.settlement_mode not in SETTLEMENT_MODES:
            raise ValidationFailed(INVALID_SETTLEMENT_MODE, errors={"settlement_mode": SETTLEMENT_MODE_CHOICES})
        store.settlement_mode = changes.settlement_mode
    if changes.platform_fee_percent is not None:
        store.platform_fee_percent = _percent(changes.platform_fee_percent, "platform_fee_percent")
    if changes.underpayment_tolerance_percent is not None:
        store.underpayment_tolerance_percent = _percent(changes.underpayment_tolerance_percent,
                                                        "underpayment_tolerance_percent")
    if changes.default_expiry_hours is not None:
        if not 1 <= changes.default_expiry_hours <= MAX_EXPIRY_HOURS:
            raise ValidationFailed(said("invalid_expiry", "Invalid expiry"), errors={"default_expiry_hours": said(
                "d_range", f"1 to {MAX_EXPIRY_HOURS}", low=1, high=MAX_EXPIRY_HOURS)})
        store.default_expiry_hours = changes.default_expiry_hours
    if changes.language is not None:
        store.language = checked_language(changes.language)
    if changes.tron_xpub is not None:
        store.tron_xpub = check_xpub(changes.tron_xpub.strip()) if changes.tron_xpub.strip() else None
    for code, address in (changes.wallets or {}).items():
        set_wallet(uow, store.id, code, address, allow_off_curve=allow_off_curve, usdc_mints=usdc_mints)
    uow.session.flush()
    return store
