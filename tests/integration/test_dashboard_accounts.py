"""Dashboard accounts (issue 22): sign-up rules, sign-in, revocable sessions, password change, throttling."""

from __future__ import annotations

import dataclasses
import os
import secrets

import pytest

from gateway_core.accounts.passwords import verify_password
from gateway_core.accounts.users import InvalidCredentials, check_password, create_user, list_users
from gateway_core.adapters.models import User
from gateway_core.domain.errors import GatewayError
from tests.conftest import running_app
from tests.integration.dashboard_support import PASSWORD, csrf_token, make_user, post_form, sign_in


def test_first_account_is_admin_and_later_ones_need_open_signup(services) -> None:
    with services.uow() as uow:
        first = create_user(uow, " Owner@Shop.TEST ", PASSWORD, open_signup=False)
    assert first.is_admin and first.email == "owner@shop.test"
    with services.uow() as uow, pytest.raises(GatewayError) as closed:
        create_user(uow, "late@shop.test", PASSWORD, open_signup=False)
    assert closed.value.code == "SIGNUP_CLOSED"
    with services.uow() as uow:
        second = create_user(uow, "second@shop.test", PASSWORD)
        stored = uow.session.get(User, second.id)
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
        assert verify_password(stored.password_hash, PASSWORD) and not verify_password(stored.password_hash, "x" * 12)
    assert not second.is_admin
    with services.uow() as uow:
        assert [a.email for a in list_users(uow)] == ["owner@shop.test", "second@shop.test"]
        with pytest.raises(InvalidCredentials):
            check_password(uow, "nobody@shop.test", PASSWORD)
        with pytest.raises(GatewayError):
            create_user(uow, "second@shop.test", PASSWORD)
        with pytest.raises(GatewayError):
            create_user(uow, "short@shop.test", "short")


def test_first_signup_on_a_fresh_instance_then_signup_is_closed(app, client) -> None:
    created = post_form(client, "/dashboard/sign-up", {"email": "admin@shop.test", "password": PASSWORD},
                        token_from="/dashboard/sign-up")
    assert created.status_code == 302 and created.headers["Location"].endswith("/dashboard/")
    assert client.get("/dashboard/").status_code == 200
    other = app.test_client()
    assert other.get("/dashboard/sign-up").status_code == 404
    assert "Create an account" not in other.get("/dashboard/sign-in").get_data(as_text=True)


def test_session_cookie_flags_and_dashboard_headers(services, client) -> None:
    make_user(services, "owner@shop.test")
    answer = sign_in(client, "owner@shop.test")
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie  # PUBLIC_URL is https
    page = client.get("/dashboard/")
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.get_data(as_text=True) and "style=" not in page.get_data(as_text=True)


def test_wrong_password_and_sign_out(services, client) -> None:
    make_user(services, "owner@shop.test")
    wrong = sign_in(client, "owner@shop.test", "not the password")
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302
    assert sign_in(client, "owner@shop.test").status_code == 302
    assert client.get("/dashboard/").status_code == 200
    out = post_form(client, "/dashboard/sign-out", token_from="/dashboard/")
    assert out.status_code == 302
    assert client.get("/dashboard/").headers["Location"].startswith("/dashboard/sign-in")


def test_password_change_ends_other_sessions_and_keeps_this_one(app, services, client) -> None:
    make_user(services, "owner@shop.test")
    laptop, phone = client, app.test_client()
    assert sign_in(laptop, "owner@shop.test").status_code == 302
    assert sign_in(phone, "owner@shop.test").status_code == 302
    changed = post_form(laptop, "/dashboard/account",
                        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
                        token_from="/dashboard/account")
    assert changed.status_code == 200 and "Password changed" in changed.get_data(as_text=True)
    assert laptop.get("/dashboard/").status_code == 200
    assert phone.get("/dashboard/").status_code == 302  # its session record was revoked
    assert sign_in(phone, "owner@shop.test").status_code == 401
    assert sign_in(phone, "owner@shop.test", "a brand new passphrase").status_code == 302


def test_wrong_current_password_changes_nothing(services, client) -> None:
    make_user(services, "owner@shop.test")
    sign_in(client, "owner@shop.test")
    refused = post_form(client, "/dashboard/account", {"current_password": "guessing wrong",
                                                       "new_password": "a brand new passphrase"},
                        token_from="/dashboard/account")
    assert refused.status_code == 422
    with services.uow() as uow:
        assert check_password(uow, "owner@shop.test", PASSWORD).email == "owner@shop.test"


def test_sign_out_everywhere(app, services, client) -> None:
    make_user(services, "owner@shop.test")
    other = app.test_client()
    sign_in(client, "owner@shop.test")
    sign_in(other, "owner@shop.test")
    assert post_form(client, "/dashboard/sign-out-everywhere", token_from="/dashboard/account").status_code == 302
    assert client.get("/dashboard/").status_code == 302 and other.get("/dashboard/").status_code == 302


def test_sign_in_is_throttled_per_account(app, services, clock) -> None:
    make_user(services, "owner@shop.test")
    answers = [sign_in(app.test_client(), "owner@shop.test", "wrong guess").status_code for _ in range(6)]
    assert answers[:5] == [401] * 5 and answers[5] == 429
    # Right password, still throttled: the account's budget is spent whoever asks.
    late = sign_in(app.test_client(), "owner@shop.test")
    assert late.status_code == 429 and int(late.headers["Retry-After"]) >= 1
    clock.advance(seconds=int(late.headers["Retry-After"]))
    assert sign_in(app.test_client(), "owner@shop.test").status_code == 302


def test_sign_in_is_throttled_per_client(app, services) -> None:
    client = app.test_client()
    answers = [sign_in(client, f"user{i}@shop.test", "wrong guess").status_code for i in range(11)]
    assert answers[:10] == [401] * 10 and answers[10] == 429


def test_csrf_missing_or_wrong_is_refused(services, client) -> None:
    make_user(services, "owner@shop.test")
    missing = client.post("/dashboard/sign-in", data={"email": "owner@shop.test", "password": PASSWORD})
    assert missing.status_code == 400
    csrf_token(client)
    wrong = client.post("/dashboard/sign-in", data={"email": "owner@shop.test", "password": PASSWORD,
                                                    "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert client.get("/dashboard/").status_code == 302  # not signed in
    sign_in(client, "owner@shop.test")
    forged = client.post("/dashboard/stores/new", data={"name": "Forged", "network": "sandbox",
                                                        "csrf_token": "forged"})
    assert forged.status_code == 400 and "Forged" not in client.get("/dashboard/").get_data(as_text=True)


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_two_web_processes_on_one_redis_share_an_accounts_sign_in_budget(services, settings, clock) -> None:
    email = f"owner-{secrets.token_hex(4)}@shop.test"  # its own Redis key, whoever else runs on this Redis
    make_user(services, email)
    shared = dataclasses.replace(settings, redis_url=REDIS_URL)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    with running_app(shared, clock) as first, running_app(shared, clock) as second:
        answers = []
        for app in (first, second, first, second, first, second):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = address  # and a client budget of its own on this Redis
            answers.append(sign_in(client, email, "wrong guess").status_code)
        assert answers[:5] == [401] * 5 and answers[5] == 429
        clock.advance(seconds=12)  # one attempt a 12 s at 5 a minute
        client = second.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        assert sign_in(client, email).status_code == 302


def test_sign_in_returns_to_the_dashboard_page_asked_for_never_elsewhere(services, client) -> None:
    owner = make_user(services, "owner@shop.test")
    with services.uow() as uow:
        from gateway_core.accounts.members import create_store_for

        store_id = create_store_for(uow, services.vault, owner.id, name="Shop", network="sandbox").id
    asked = client.get(f"/dashboard/stores/{store_id}")
    assert asked.status_code == 302
    login_page = asked.headers["Location"]
    form = client.get(login_page).get_data(as_text=True)
    assert f"next=/dashboard/stores/{store_id}\"" in form  # the form keeps where to return
    token = csrf_token(client)
    answer = client.post(login_page, data={"csrf_token": token, "email": "owner@shop.test", "password": PASSWORD})
    assert answer.headers["Location"] == f"/dashboard/stores/{store_id}"
    for elsewhere in ("https://evil.test/", "//evil.test/dashboard/", "/dashboard/\\\\evil.test"):
        client.post("/dashboard/sign-out", data={"csrf_token": csrf_token(client, "/dashboard/")})
        answer = client.post("/dashboard/sign-in", query_string={"next": elsewhere},
                             data={"csrf_token": csrf_token(client), "email": "owner@shop.test", "password": PASSWORD})
        assert answer.headers["Location"] == "/dashboard/", elsewhere


def test_no_secure_flag_on_a_plain_http_gateway(services, settings, clock) -> None:
    make_user(services, "owner@shop.test")
    with running_app(dataclasses.replace(settings, public_url="http://127.0.0.1:8000"), clock) as plain:
        cookie = sign_in(plain.test_client(), "owner@shop.test").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_open_signup_lets_anyone_create_an_account(services, settings, clock) -> None:
    make_user(services, "admin@shop.test")
    with running_app(dataclasses.replace(settings, allow_signup=True), clock) as open_app:
        client = open_app.test_client()
        made = post_form(client, "/dashboard/sign-up", {"email": "new@shop.test", "password": PASSWORD},
                         token_from="/dashboard/sign-up")
        assert made.status_code == 302 and client.get("/dashboard/").status_code == 200
        again = post_form(open_app.test_client(), "/dashboard/sign-up",
                          {"email": "NEW@shop.test", "password": PASSWORD}, token_from="/dashboard/sign-up")
        assert again.status_code == 422 and "already registered" in again.get_data(as_text=True)
    with services.uow() as uow:
        assert [(a.email, a.is_admin) for a in list_users(uow)] == [("admin@shop.test", True),
                                                                    ("new@shop.test", False)]
