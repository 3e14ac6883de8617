"""The server admin's page: every account, and inviting people by email (open sign-up may be off)."""

from __future__ import annotations

from flask import abort
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import signed_in
from bridge.dashboard.blueprint import bp, language, page, t
from bridge.dashboard.forms import EmailForm
from bridge.dashboard.messages import said
from bridge.dashboard.recovery import link_for
from bridge.extensions import services
from gateway_core.accounts.links import invite, people
from gateway_core.domain.errors import GatewayError

Page = tuple[str, int] | BaseResponse


def _page(status: int = 200, **extra: object) -> Page:
    svc = services()
    with svc.uow(read_only=True) as uow:
        everyone = people(uow)
    return page("admin_users.html", status, people=everyone,
                form=extra.pop("form", None) or EmailForm(formdata=None), **extra)


@bp.route("/admin/users", methods=["GET", "POST"])
@login_required
def admin_users() -> Page:
    if not signed_in().account.is_admin:
        abort(403)
    form = EmailForm()
    if not form.validate_on_submit():
        return _page(400 if form.is_submitted() else 200, form=form)
    svc = services()
    try:
        with svc.uow() as uow:
            sent = invite(uow, svc.settings.secret_key, form.email.data or "", link_for, svc.clock, language())
    except GatewayError as exc:
        error, errors = said(exc)
        return _page(422, form=form, error=error, errors=errors)
    return _page(notice=t("dash_invite_sent") if sent else t("dash_invite_exists"))
