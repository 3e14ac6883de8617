"""One invoice's page: its timeline (gateway_core/invoices/timeline.py) and the merchant's actions on it.

Any member reads it; cancelling, recording a decision and redelivering need the "edit" permission (manager or
owner). Every action is a form that posts (CSRF) and comes back to the page (post / redirect / get).
"""

from __future__ import annotations

from flask import redirect, url_for
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectField, TextAreaField
from wtforms.validators import InputRequired, Length

from bridge.dashboard.access import signed_in, store_action, store_for
from bridge.dashboard.blueprint import bp, page
from bridge.dashboard.forms import DashboardForm, first_error
from bridge.dashboard.messages import said
from bridge.extensions import services
from gateway_core.domain.errors import GatewayError
from gateway_core.invoices.manage import cancel_invoice
from gateway_core.invoices.merchant_actions import DECISIONS, MAX_NOTE, Actor, record_decision, redeliver_for_invoice
from gateway_core.invoices.timeline import invoice_timeline

Page = tuple[str, int] | BaseResponse
INVOICE = "/stores/<int:store_id>/invoices/<string(maxlength=32):number>"
# Failures the merchant can act on are shown on the page; the others (404, 403) answer as error pages.
SHOWN_ON_PAGE = ("VALIDATION_ERROR", "INVALID_INVOICE_STATE")


class DecisionForm(DashboardForm):
    decision = SelectField("dash_ip_decision", choices=list(DECISIONS))
    note = TextAreaField("dash_ip_note", validators=[InputRequired(), Length(max=MAX_NOTE)])


def _page(store_id: int, number: str, status: int = 200, **extra: object) -> Page:
    svc = services()
    with svc.uow(read_only=True) as uow:
        found = store_for(uow, store_id)
        timeline = invoice_timeline(uow, store_id, number, svc.clock)
        form = extra.pop("form", None) or DecisionForm(formdata=None)
        return page("invoice.html", status, store=found.store, may=found.may, tl=timeline, inv=timeline.invoice,
                    form=form, **extra)


def _back(store_id: int, number: str, notice: str) -> BaseResponse:
    return redirect(url_for("dashboard.invoice_page", store_id=store_id, number=number, done=notice))


@bp.route(INVOICE)
@login_required
def invoice_page(store_id: int, number: str) -> Page:
    return _page(store_id, number)


@bp.route(INVOICE + "/cancel", methods=["POST"])
@store_action("edit")
def invoice_cancel(store_id: int, number: str) -> Page:
    svc = services()
    try:
        with svc.uow() as uow:
            found = store_for(uow, store_id, "edit")
            cancel_invoice(uow, found.store, number, svc.clock)  # the contracts' own cancel: event + outbox rows
    except GatewayError as exc:
        if exc.code not in SHOWN_ON_PAGE:
            raise
        return _page(store_id, number, 409, error=said(exc)[0])
    return _back(store_id, number, "cancelled")


def _decision_invalid(form: DecisionForm, store_id: int, number: str) -> Page:
    return _page(store_id, number, 400, form=form, error=first_error(form))


@bp.route(INVOICE + "/decision", methods=["POST"])
@store_action("edit", DecisionForm, _decision_invalid)
def invoice_decision(store_id: int, number: str, form: DecisionForm) -> Page:
    svc = services()
    user = signed_in().account
    try:
        with svc.uow() as uow:
            store_for(uow, store_id, "edit")
            record_decision(uow, store_id, number, form.decision.data or "", form.note.data or "",
                            Actor(user.id, user.email), svc.clock)
    except GatewayError as exc:
        if exc.code not in SHOWN_ON_PAGE:
            raise
        error, errors = said(exc)
        return _page(store_id, number, 409 if exc.code != "VALIDATION_ERROR" else 422, form=form, error=error,
                     errors=errors)
    return _back(store_id, number, "decided")


@bp.route(INVOICE + "/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@store_action("edit")
def invoice_redeliver(store_id: int, number: str, delivery_id: int) -> Page:
    svc = services()
    with svc.uow() as uow:
        store_for(uow, store_id, "edit")
        redeliver_for_invoice(uow, store_id, number, delivery_id, svc.clock)  # into the outbox; the worker sends it
    return _back(store_id, number, "redelivered")
