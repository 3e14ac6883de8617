"""Emailed account links: asking for a password reset, and setting a password through a reset or invite link."""

from __future__ import annotations

from flask import Response, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import sign_in_wait
from bridge.dashboard.blueprint import bp, language, page, t
from bridge.dashboard.forms import EmailForm, NewPasswordForm
from bridge.dashboard.messages import said
from bridge.extensions import services
from bridge.ratelimit import retry_after
from gateway_core.accounts.links import InvalidLink, link_user, request_reset, use_link
from gateway_core.domain.errors import GatewayError

Page = tuple[str, int] | BaseResponse


def link_for(token: str) -> str:
    """The absolute link an email carries (PUBLIC_URL: the address merchants reach this gateway at)."""
    return services().settings.public_url.rstrip("/") + url_for("dashboard.password_link", token=token)


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> Page:
    form = EmailForm()
    if not form.validate_on_submit():
        return page("forgot.html", 400 if form.is_submitted() else 200, form=form)
    # Shares sign-in's buckets: a way to make the gateway send mail is throttled like a way to guess passwords.
    wait = sign_in_wait(form.email.data or "")
    if wait > 0:
        body, status = page("forgot.html", 429, form=form, error=t("dash_too_many"))
        return Response(body, status, headers={"Retry-After": retry_after(wait)})
    svc = services()
    with svc.uow() as uow:
        request_reset(uow, svc.settings.secret_key, form.email.data or "", link_for, svc.clock, language())
    # The same answer whether or not the account exists.
    return page("forgot.html", form=EmailForm(formdata=None), notice=t("dash_reset_sent"))


@bp.route("/password/<token>", methods=["GET", "POST"])
def password_link(token: str) -> Page:
    svc = services()
    try:
        with svc.uow(read_only=True) as uow:
            _user, purpose = link_user(uow, svc.settings.secret_key, token, svc.clock)
    except InvalidLink:
        return page("password_link.html", 400, form=None, error=t("dash_link_invalid"))
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return page("password_link.html", 400 if form.is_submitted() else 200, form=form, purpose=purpose)
    try:
        with svc.uow() as uow:
            use_link(uow, svc.settings.secret_key, token, form.new_password.data or "", svc.clock)
    except InvalidLink:
        return page("password_link.html", 400, form=None, error=t("dash_link_invalid"))
    except GatewayError as exc:
        error, errors = said(exc)
        return page("password_link.html", 422, form=form, purpose=purpose, error=error, errors=errors)
    return redirect(url_for("dashboard.sign_in", done="password"))
