"""A store's API keys per contract: create (the secret shown once), list, rotate, revoke. Owners only."""

from __future__ import annotations

from flask import redirect, url_for
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import store_action, store_for
from bridge.dashboard.blueprint import bp, page
from bridge.dashboard.forms import KeyForm, first_error
from bridge.extensions import services
from gateway_core.keys.api_keys import IssuedKey, issue_key, list_keys, revoke_key, rotate_key

Page = tuple[str, int] | BaseResponse


def _keys_page(store_id: int, status: int = 200, issued: IssuedKey | None = None, error: str | None = None) -> Page:
    svc = services()
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id, "keys")
        return page("keys.html", status, store=found.store, keys=list_keys(uow, store_id, svc.clock),
                    form=KeyForm(formdata=None), issued=issued, error=error,
                    grace_hours=svc.key_grace.total_seconds() / 3600)


@bp.route("/stores/<int:store_id>/keys")
@login_required
def keys_page(store_id: int) -> Page:
    return _keys_page(store_id)


def _key_invalid(form: KeyForm, store_id: int) -> Page:
    return _keys_page(store_id, 400, error=first_error(form))


def _issue(store_id: int, form: KeyForm, rotate: bool) -> Page:
    svc = services()
    kind = form.kind.data or "voltxt"
    with svc.uow() as uow:
        store_for(uow, store_id, "keys")
        issued = (rotate_key(uow, svc.vault, store_id, svc.clock, svc.key_grace, kind) if rotate
                  else issue_key(uow, svc.vault, store_id, kind))
    return _keys_page(store_id, 201, issued=issued)


@bp.route("/stores/<int:store_id>/keys", methods=["POST"])
@store_action("keys", KeyForm, _key_invalid)
def key_create(store_id: int, form: KeyForm) -> Page:
    return _issue(store_id, form, rotate=False)


@bp.route("/stores/<int:store_id>/keys/rotate", methods=["POST"])
@store_action("keys", KeyForm, _key_invalid)
def key_rotate(store_id: int, form: KeyForm) -> Page:
    return _issue(store_id, form, rotate=True)


@bp.route("/stores/<int:store_id>/keys/<int:key_id>/revoke", methods=["POST"])
@store_action("keys")
def key_revoke(store_id: int, key_id: int) -> Page:
    svc = services()
    with svc.uow() as uow:
        store_for(uow, store_id, "keys")
        revoke_key(uow, store_id, key_id, svc.clock)
    return redirect(url_for("dashboard.keys_page", store_id=store_id))
