"""Sign in, sign up, sign out (here or everywhere) and password change."""

from __future__ import annotations

from flask import Response, abort, redirect, request, session, url_for
from flask_login import login_required, login_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import DashboardUser, sign_in_wait, signed_in
from bridge.dashboard.blueprint import bp, page, t
from bridge.dashboard.forms import CodeForm, PasswordForm, SignInForm, SignUpForm
from bridge.dashboard.messages import said
from bridge.extensions import services
from bridge.ratelimit import retry_after
from gateway_core.accounts import two_factor
from gateway_core.accounts.sessions import open_session, revoke_all, revoke_session
from gateway_core.accounts.users import (
    Account,
    InvalidCredentials,
    account_of,
    change_password,
    check_password,
    create_user,
    has_users,
)
from gateway_core.domain.errors import GatewayError

Page = tuple[str, int] | BaseResponse
PENDING = "second_factor"  # the session key of a sign-in waiting for its two-factor code
PENDING_SECONDS = 300


def _start_session(account: Account, target: str | None = None) -> BaseResponse:
    svc = services()
    with svc.uow() as uow:
        opened = open_session(uow, account.id, svc.clock)
    session.clear()  # a fresh cookie (and CSRF token) for the signed-in session
    login_user(DashboardUser(opened.token, opened.id, account))
    return redirect(target or _next_page())


def _next_page() -> str:
    """Where login_required sent the user from, if it is a dashboard page (never another site)."""
    wanted = request.args.get("next", "")
    if wanted.startswith("/dashboard/") and "//" not in wanted and "\\" not in wanted and wanted.isprintable():
        return wanted
    return url_for("dashboard.store_list")


def _signup_open() -> bool:
    svc = services()
    if svc.settings.allow_signup:
        return True
    with svc.uow(read_only=True) as uow:
        return not has_users(uow)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Page:
    form = SignInForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return page("sign_in.html", status, form=form, signup=_signup_open())
    wait = sign_in_wait(form.email.data or "")
    if wait > 0:
        body, status = page("sign_in.html", 429, form=form, signup=_signup_open(),
                            error=t("dash_too_many"))
        return Response(body, status, headers={"Retry-After": retry_after(wait)})
    svc = services()
    try:
        with svc.uow(read_only=True) as uow:
            account = check_password(uow, form.email.data or "", form.password.data or "")
            second_factor = two_factor.is_enabled(uow, account.id)
    except InvalidCredentials:
        return page("sign_in.html", 401, form=form, signup=_signup_open(), error=t("dash_wrong_credentials"))
    if second_factor:
        # The password is right; no session until the code is too. The pending sign-in lives in the signed
        # cookie for a few minutes.
        session.clear()
        session[PENDING] = {"user": account.id, "email": account.email, "at": svc.clock.now().timestamp(),
                            "next": _next_page()}
        return redirect(url_for("dashboard.sign_in_code"))
    return _start_session(account)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def sign_in_code() -> Page:
    svc = services()
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or svc.clock.now().timestamp() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return redirect(url_for("dashboard.sign_in"))
    form = CodeForm()
    if not form.validate_on_submit():
        return page("sign_in_code.html", 400 if form.is_submitted() else 200, form=form)
    wait = sign_in_wait(str(pending["email"]))
    if wait > 0:
        body, status = page("sign_in_code.html", 429, form=form, error=t("dash_too_many"))
        return Response(body, status, headers={"Retry-After": retry_after(wait)})
    try:
        with svc.uow() as uow:
            two_factor.check_code(uow, svc.vault, int(pending["user"]), form.code.data or "", svc.clock)
            account = account_of(uow, int(pending["user"]))
    except two_factor.WrongCode:
        return page("sign_in_code.html", 401, form=form, error=t("dash_wrong_code"))
    if account is None:
        return redirect(url_for("dashboard.sign_in"))
    return _start_session(account, str(pending["next"]))


@bp.route("/sign-up", methods=["GET", "POST"])
def sign_up() -> Page:
    if not _signup_open():
        abort(404)
    form = SignUpForm()
    if not form.validate_on_submit():
        return page("sign_up.html", 400 if form.is_submitted() else 200, form=form)
    svc = services()
    try:
        with svc.uow() as uow:
            account = create_user(uow, form.email.data or "", form.password.data or "",
                                  open_signup=svc.settings.allow_signup)
    except GatewayError as exc:
        error, errors = said(exc)
        return page("sign_up.html", 422, form=form, error=error, errors=errors)
    return _start_session(account)


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out() -> BaseResponse:
    svc = services()
    with svc.uow() as uow:
        revoke_session(uow, signed_in().token, svc.clock)
    logout_user()
    session.clear()
    return redirect(url_for("dashboard.sign_in"))


@bp.route("/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere() -> BaseResponse:
    svc = services()
    with svc.uow() as uow:
        revoke_all(uow, signed_in().account.id, svc.clock)
    logout_user()
    session.clear()
    return redirect(url_for("dashboard.sign_in"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> Page:
    form = PasswordForm()
    user = signed_in()
    if not form.validate_on_submit():
        return page("account.html", 400 if form.is_submitted() else 200, form=form, user=user.account)
    svc = services()
    try:
        with svc.uow() as uow:
            change_password(uow, user.account.id, form.current_password.data or "", form.new_password.data or "",
                            svc.clock, keep_session=user.session_id)
    except InvalidCredentials:
        return page("account.html", 422, form=form, user=user.account, error=t("dash_wrong_current_password"))
    except GatewayError as exc:
        error, errors = said(exc)
        return page("account.html", 422, form=form, user=user.account, error=error, errors=errors)
    return page("account.html", form=PasswordForm(formdata=None), user=user.account,
                notice=t("dash_password_changed"))
