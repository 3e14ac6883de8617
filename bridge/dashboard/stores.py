"""Stores: the list, creation (through the core's one store creation), a store's page and its members."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import signed_in, store_action, store_for
from bridge.dashboard.blueprint import bp, page, t
from bridge.dashboard.forms import MemberForm, StoreForm, first_error
from bridge.dashboard.messages import said
from bridge.dashboard.recovery import link_for
from bridge.extensions import services
from bridge.i18n import language_name
from gateway_core.accounts.links import invite
from gateway_core.accounts.members import create_store_for, members_of, remove_member, set_member, stores_of
from gateway_core.domain.errors import GatewayError

Page = tuple[str, int] | BaseResponse


@bp.route("/")
@login_required
def store_list() -> Page:
    svc = services()
    with svc.uow(read_only=True) as uow:
        return page("stores.html", memberships=stores_of(uow, signed_in().account.id), user=signed_in().account)


@bp.route("/stores/new", methods=["GET", "POST"])
@login_required
def store_new() -> Page:
    form = StoreForm()
    if not form.validate_on_submit():
        error = first_error(form) if form.is_submitted() else None
        return page("store_new.html", 400 if error else 200, form=form, error=error)
    svc = services()
    try:
        with svc.uow() as uow:
            created = create_store_for(uow, svc.vault, signed_in().account.id, name=form.name.data or "",
                                       network=form.network.data or "", wallets=form.wallets(),
                                       settlement_mode=form.settlement_mode.data or "direct",
                                       tron_xpub=(form.tron_xpub.data or "").strip() or None,
                                       language=form.language.data or "en")
    except GatewayError as exc:
        error, errors = said(exc)
        return page("store_new.html", 422, form=form, error=error, errors=errors)
    # The store's first VOLTXT key is shown on this response only.
    return page("store_created.html", 201, created=created)


def _store_page(store_id: int, status: int = 200, **extra: object) -> Page:
    svc = services()
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id)
        return page("store.html", status, store=found.store, role=found.role, may=found.may,
                    language=language_name(found.store.language),
                    members=members_of(uow, store_id), form=extra.pop("form", None) or MemberForm(formdata=None),
                    **extra)


@bp.route("/stores/<int:store_id>")
@login_required
def store_page(store_id: int) -> Page:
    return _store_page(store_id, notice=t("dash_store_saved") if request.args.get("saved") else None)


def _member_invalid(form: MemberForm, store_id: int) -> Page:
    return _store_page(store_id, 400, form=form, error=first_error(form))


@bp.route("/stores/<int:store_id>/members", methods=["POST"])
@store_action("members", MemberForm, _member_invalid)
def member_set(store_id: int, form: MemberForm) -> Page:
    svc = services()
    try:
        with svc.uow() as uow:
            # Someone with no account yet gets one, and an emailed link to choose its password.
            store = store_for(uow, store_id, "members").store  # the invite is in the store's language
            invited = invite(uow, svc.settings.secret_key, form.email.data or "", link_for, svc.clock,
                             store.language)
            set_member(uow, store_id, form.email.data or "", form.role.data or "")
    except GatewayError as exc:
        return _store_page(store_id, 422, form=form, error=said(exc)[0])
    if invited:
        return _store_page(store_id, notice=t("dash_invite_sent"))
    return redirect(url_for("dashboard.store_page", store_id=store_id))


@bp.route("/stores/<int:store_id>/members/<int:user_id>/remove", methods=["POST"])
@store_action("members")
def member_remove(store_id: int, user_id: int) -> Page:
    svc = services()
    try:
        with svc.uow() as uow:
            store_for(uow, store_id, "members")
            remove_member(uow, store_id, user_id)
    except GatewayError as exc:
        if exc.code != "VALIDATION_ERROR":
            raise
        return _store_page(store_id, 422, error=said(exc)[0])
    return redirect(url_for("dashboard.store_page", store_id=store_id))
