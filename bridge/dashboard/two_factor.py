"""Two-factor settings on the account: enrol (QR code + a code to confirm), recovery codes, and turning it off."""

from __future__ import annotations

from flask import Response, redirect, session, url_for
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from bridge.dashboard.access import sign_in_wait, signed_in
from bridge.dashboard.blueprint import bp, page, t
from bridge.dashboard.forms import CodeForm, DisableTwoFactorForm
from bridge.extensions import services
from bridge.qr import qr_svg
from bridge.ratelimit import retry_after
from gateway_core.accounts import two_factor

Page = tuple[str, int] | BaseResponse
ENROLLING = "totp_enrolling"  # the secret being enrolled, until a code confirms it (the user sees it anyway)


def _settings_page(status: int = 200, **extra: object) -> Page:
    svc = services()
    user = signed_in().account
    with svc.uow(read_only=True) as uow:
        enabled = two_factor.is_enabled(uow, user.id)
        left = two_factor.recovery_codes_left(uow, user.id) if enabled else 0
    form = extra.pop("form", None)
    if enabled:
        return page("two_factor.html", status, enabled=True, left=left, **extra,
                    form=form if isinstance(form, DisableTwoFactorForm) else DisableTwoFactorForm(formdata=None))
    secret = session.get(ENROLLING)
    if not isinstance(secret, str):
        secret = session[ENROLLING] = two_factor.new_secret()
    uri = two_factor.provisioning_uri(secret, user.email)
    return page("two_factor.html", status, enabled=False, secret=secret, qr=qr_svg(uri, t("dash_2fa_qr_title")),
                form=form if isinstance(form, CodeForm) else CodeForm(formdata=None), **extra)


def _throttled() -> BaseResponse | None:
    """Codes are guessed like passwords: the same per-account and per-client buckets as sign-in."""
    wait = sign_in_wait(signed_in().account.email)
    if wait <= 0:
        return None
    body = page("two_factor.html", 429, enabled=False, secret="", qr="", form=None, error=t("dash_too_many"))[0]
    return Response(body, 429, headers={"Retry-After": retry_after(wait)})


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor_page() -> Page:
    form = CodeForm()
    if not form.validate_on_submit():
        return _settings_page(400 if form.is_submitted() else 200, form=form)
    svc = services()
    with svc.uow(read_only=True) as uow:
        if two_factor.is_enabled(uow, signed_in().account.id):
            return _settings_page(409)
    secret = session.get(ENROLLING)
    if not isinstance(secret, str):
        return redirect(url_for("dashboard.two_factor_page"))
    throttled = _throttled()
    if throttled is not None:
        return throttled
    try:
        with svc.uow() as uow:
            codes = two_factor.enable(uow, svc.vault, signed_in().account.id, secret, form.code.data or "",
                                      svc.clock)
    except two_factor.WrongCode:
        return _settings_page(422, form=form, error=t("dash_wrong_code"))
    session.pop(ENROLLING, None)
    return page("recovery_codes.html", codes=codes)


@bp.route("/account/two-factor/disable", methods=["POST"])
@login_required
def two_factor_disable() -> Page:
    form = DisableTwoFactorForm()
    if not form.validate_on_submit():
        return _settings_page(400, form=form)
    throttled = _throttled()
    if throttled is not None:
        return throttled
    svc = services()
    try:
        with svc.uow() as uow:
            two_factor.disable(uow, svc.vault, signed_in().account.id, form.password.data or "",
                               form.code.data or "", svc.clock)
    except two_factor.WrongCode:
        return _settings_page(422, error=t("dash_wrong_password_or_code"))
    return _settings_page(notice=t("dash_2fa_off"))
