"""Optional TOTP two-factor (issue 22): enrol with a QR code and a code, sign in with the code after the
password, recovery codes (single use), turning it off with password + code, throttled like sign-in."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from gateway_core.accounts.two_factor import WrongCode, check_code
from gateway_core.adapters.models import RecoveryCode, User
from tests.integration.dashboard_support import PASSWORD, make_user, post_form, sign_in

TWO_FACTOR = "/dashboard/account/two-factor"
SECRET = re.compile(r"<code>([A-Z2-7]{16,})</code>")
CODE = re.compile(r"<li><code>([0-9a-f]{8}-[0-9a-f]{8})</code></li>")


def _enrol(client, clock) -> tuple[str, list[str]]:
    page = client.get(TWO_FACTOR)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "<title>" in html
    assert "http" not in html.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org/2000/svg", "")
    secret = SECRET.search(html).group(1)  # type: ignore[union-attr]
    wrong = post_form(client, TWO_FACTOR, {"code": "000000"}, token_from=TWO_FACTOR)
    assert wrong.status_code == 422
    done = post_form(client, TWO_FACTOR, {"code": pyotp.TOTP(secret).at(clock.now())}, token_from=TWO_FACTOR)
    assert done.status_code == 200
    codes = CODE.findall(done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def _code_step(client, code: str):
    return post_form(client, "/dashboard/sign-in/code", {"code": code}, token_from="/dashboard/sign-in/code")


def test_enrol_then_sign_in_asks_the_code(services, app, clock) -> None:
    make_user(services, "owner@shop.test")
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    secret, _codes = _enrol(client, clock)
    with services.uow() as uow:
        user = uow.session.execute(select(User)).scalar_one()
        assert user.totp_secret and secret not in user.totp_secret  # kept encrypted

    fresh = app.test_client()
    first = sign_in(fresh, "owner@shop.test")
    assert first.status_code == 302 and first.headers["Location"] == "/dashboard/sign-in/code"
    assert fresh.get("/dashboard/account").status_code == 302  # no session before the code
    # The code enrolment used is spent; the next step's code opens the session, once.
    spent = pyotp.TOTP(secret).at(clock.now())
    assert _code_step(fresh, spent).status_code == 401
    clock.advance(seconds=30)
    good = _code_step(fresh, pyotp.TOTP(secret).at(clock.now()))
    assert good.status_code == 302 and good.headers["Location"] == "/dashboard/"
    assert fresh.get("/dashboard/account").status_code == 200

    # The same code again (another device, same 30 s step) is refused: each code signs in once.
    with services.uow() as uow, pytest.raises(WrongCode):
        check_code(uow, services.vault, user.id, pyotp.TOTP(secret).at(clock.now()), clock)


def test_recovery_codes_work_once(services, app, clock) -> None:
    make_user(services, "owner@shop.test")
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    _secret, codes = _enrol(client, clock)
    with services.uow() as uow:
        stored = [r.code_digest for r in uow.session.execute(select(RecoveryCode)).scalars()]
    assert len(stored) == 10 and not set(codes) & set(stored)

    clock.advance(minutes=1)  # sign-in's buckets refill
    one = app.test_client()
    sign_in(one, "owner@shop.test")
    assert _code_step(one, codes[0].upper()).status_code == 302
    clock.advance(minutes=1)
    two = app.test_client()
    sign_in(two, "owner@shop.test")
    assert _code_step(two, codes[0]).status_code == 401
    assert "Recovery codes left: 9" in one.get(TWO_FACTOR).get_data(as_text=True)


def test_the_code_step_expires_and_needs_the_password_first(services, app, clock) -> None:
    make_user(services, "owner@shop.test")
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    _enrol(client, clock)
    anonymous = app.test_client()
    assert anonymous.get("/dashboard/sign-in/code").headers["Location"] == "/dashboard/sign-in"
    late = app.test_client()
    sign_in(late, "owner@shop.test")
    clock.advance(minutes=6)
    assert late.get("/dashboard/sign-in/code").status_code == 302
    assert late.get("/dashboard/account").status_code == 302


def test_code_guesses_are_throttled(services, app, clock) -> None:
    make_user(services, "owner@shop.test")
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    _enrol(client, clock)
    guesser = app.test_client()
    clock.advance(minutes=5)  # the buckets refill after the sign-ins above
    sign_in(guesser, "owner@shop.test")
    # Five a minute per account (the password step took one): the fifth wrong code waits.
    statuses = [_code_step(guesser, f"{n:06d}").status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]


def test_turning_it_off_needs_password_and_code(services, app, clock) -> None:
    make_user(services, "owner@shop.test")
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    secret, _ = _enrol(client, clock)
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now())
    off = "/dashboard/account/two-factor/disable"
    assert post_form(client, off, {"password": "wrong password!", "code": code}, TWO_FACTOR).status_code == 422
    assert post_form(client, off, {"password": PASSWORD, "code": "123456"}, TWO_FACTOR).status_code == 422
    done = post_form(client, off, {"password": PASSWORD, "code": code}, TWO_FACTOR)
    assert done.status_code == 200 and "is off" in done.get_data(as_text=True)
    with services.uow() as uow:
        assert uow.session.execute(select(User.totp_secret)).scalar_one() is None
        assert uow.session.execute(select(RecoveryCode)).first() is None
    assert sign_in(app.test_client(), "owner@shop.test").headers["Location"] == "/dashboard/"
