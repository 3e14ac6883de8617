"""The store's inbox: payments that paid no invoice (gateway_core/payments/inbox.py), and attaching one.

Any member reads it; attaching needs the "edit" permission (manager or owner).
"""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from bridge.dashboard.access import signed_in, store_action, store_for
from bridge.dashboard.blueprint import bp, page
from bridge.dashboard.forms import DashboardForm, first_error
from bridge.dashboard.messages import said
from bridge.extensions import services
from gateway_core.domain.errors import GatewayError
from gateway_core.payments.inbox import attach_payment, inbox

Page = tuple[str, int] | BaseResponse
# Failures the merchant can act on are shown on the inbox; the others (404 store, 403) answer as error pages.
SHOWN_ON_PAGE = {"VALIDATION_ERROR": 422, "INVALID_INVOICE_STATE": 409, "INVOICE_NOT_FOUND": 422}


class AttachForm(DashboardForm):
    invoice = StringField("dash_inbox_invoice", validators=[InputRequired(), Length(max=32)])


def _cursor(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) <= 18 else None  # anything else: the newest page


def _inbox_page(store_id: int, status: int = 200, **extra: object) -> Page:
    svc = services()
    after, before = _cursor("after"), _cursor("before")
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id)
        listed = inbox(uow, found.store, after=after, before=None if after is not None else before)
        return page("inbox.html", status, store=found.store, may=found.may, items=listed.items, listed=listed,
                    paged=after is not None or before is not None, form=AttachForm(formdata=None), **extra)


@bp.route("/stores/<int:store_id>/inbox")
@login_required
def inbox_page(store_id: int) -> Page:
    return _inbox_page(store_id)


def _attach_invalid(form: AttachForm, store_id: int, payment_id: int) -> Page:
    return _inbox_page(store_id, 400, error=first_error(form), failed=payment_id)


@bp.route("/stores/<int:store_id>/inbox/<int:payment_id>/attach", methods=["POST"])
@store_action("edit", AttachForm, _attach_invalid)
def inbox_attach(store_id: int, payment_id: int, form: AttachForm) -> Page:
    svc = services()
    user = signed_in().account
    try:
        with svc.uow() as uow:
            found = store_for(uow, store_id, "edit")
            attached = attach_payment(uow, found.store, payment_id, form.invoice.data or "", user.id, user.email,
                                      svc.clock, svc.quoting)
    except GatewayError as exc:
        if exc.code not in SHOWN_ON_PAGE:
            raise
        return _inbox_page(store_id, SHOWN_ON_PAGE[exc.code], error=said(exc)[0], failed=payment_id)
    return redirect(url_for("dashboard.invoice_page", store_id=store_id, number=attached.invoice_number,
                            done="attached"))
