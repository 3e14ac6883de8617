"""Editing a store: managers change its name and pricing terms; owners also its wallets, settlement mode and
TRON xpub (where the money goes). Checked by the core's store update, wallets as `voltbridge store set` does."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import store_action, store_for
from bridge.dashboard.blueprint import bp, page, t
from bridge.dashboard.forms import StoreEditForm, first_error
from bridge.dashboard.messages import said
from bridge.extensions import services
from gateway_core.domain.errors import GatewayError, ValidationFailed
from gateway_core.stores.edit import StoreChanges, update_store
from gateway_core.stores.manage import usdc_mints_for

Page = tuple[str, int] | BaseResponse


def _filled(store: Any) -> StoreEditForm:
    form = StoreEditForm(formdata=None)
    form.name.data = store.name
    form.platform_fee_percent.data = str(store.platform_fee_percent)
    form.underpayment_tolerance_percent.data = str(store.underpayment_tolerance_percent)
    form.default_expiry_hours.data = str(store.default_expiry_hours)
    form.language.data = store.language
    form.settlement_mode.data = store.settlement_mode
    form.tron_xpub.data = store.tron_xpub or ""
    wallets = {w.asset: w.address for w in store.wallets}
    form.wallet_sol.data, form.wallet_usdc.data = wallets.get("SOL", ""), wallets.get("USDC", "")
    form.wallet_usdt.data = wallets.get("USDT", "")
    return form


def _number(text: str | None, field: str, whole: bool = False) -> Any:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise ValidationFailed(t("dash_invalid_number"), errors={field: t("dash_a_number")}) from None
    if whole:
        if value != value.to_integral_value():
            raise ValidationFailed(t("dash_invalid_number"), errors={field: t("dash_a_whole_number")})
        return int(value)
    return value


def _changes(form: StoreEditForm, wallets_too: bool, current: dict[str, str]) -> StoreChanges:
    fields: dict[str, Any] = {
        "name": form.name.data or "",
        "platform_fee_percent": _number(form.platform_fee_percent.data, "platform_fee_percent"),
        "underpayment_tolerance_percent": _number(form.underpayment_tolerance_percent.data,
                                                  "underpayment_tolerance_percent"),
        "default_expiry_hours": _number(form.default_expiry_hours.data, "default_expiry_hours", whole=True),
        "language": form.language.data or None,
    }
    if wallets_too:
        # Only the wallets that changed go through the check (an unchanged one is not re-validated).
        fields.update(settlement_mode=form.settlement_mode.data, tron_xpub=form.tron_xpub.data or "",
                      wallets={a: w for a, w in form.wallets().items() if current.get(a) != w})
    return StoreChanges(**fields)


@bp.route("/stores/<int:store_id>/edit", methods=["GET", "POST"])
@store_action("edit")
def store_edit(store_id: int) -> Page:
    svc = services()
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id, "edit")
        owner = found.may("wallets")
        if not StoreEditForm().is_submitted():
            return page("store_edit.html", form=_filled(found.store), store=found.store, owner=owner)
        current = {w.asset: w.address for w in found.store.wallets}
        store_name = found.store.name
    form = StoreEditForm()
    if not form.validate_on_submit():
        return page("store_edit.html", 400, form=form, store={"id": store_id, "name": store_name}, owner=owner,
                    error=first_error(form))
    try:
        changes = _changes(form, owner, current)
        with svc.uow() as uow:
            update_store(uow, store_id, changes, usdc_mints=usdc_mints_for(svc.settings))
    except GatewayError as exc:
        error, errors = said(exc)
        return page("store_edit.html", 422, form=form, store={"id": store_id, "name": store_name}, owner=owner,
                    error=error, errors=errors)
    return redirect(url_for("dashboard.store_page", store_id=store_id, saved=1))
