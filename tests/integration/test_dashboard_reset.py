"""Password reset by an emailed link (issue 22): single use, time limited, sent through the outbox, ending
every session, and never telling whether an account exists."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway_core.accounts.passwords import verify_password
from gateway_core.adapters.models import Delivery, Email, User, UserSession
from gateway_core.bootstrap import dispatcher_for
from tests.integration.dashboard_support import PASSWORD, csrf_token, make_user, post_form, sign_in

NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"https://gateway\.test(/dashboard/password/[A-Za-z0-9_.\-]+)")


def _ask(client, email: str):
    return post_form(client, "/dashboard/forgot-password", {"email": email}, token_from="/dashboard/forgot-password")


def _mailed_link(services) -> str:
    dispatcher_for(services).run_until_idle()
    with services.uow() as uow:
        emails = uow.session.execute(select(Email).order_by(Email.id)).scalars().all()
    assert emails and emails[-1].store_id is None
    found = LINK.search(emails[-1].text_body)
    assert found and found.group(0) in emails[-1].html_body
    return found.group(1)


def test_reset_link_sets_the_password_once_and_ends_every_session(services, app, clock) -> None:
    make_user(services, "owner@shop.test")
    elsewhere = app.test_client()
    assert sign_in(elsewhere, "owner@shop.test").status_code == 302
    assert elsewhere.get("/dashboard/account").status_code == 200

    client = app.test_client()
    answer = _ask(client, "Owner@Shop.test")
    assert answer.status_code == 200 and "a link to reset its password is on its way" in answer.get_data(as_text=True)
    path = _mailed_link(services)
    with services.uow() as uow:
        (email,) = uow.session.execute(select(Email)).scalars().all()
        assert email.recipient == "owner@shop.test" and email.subject == "Reset your voltbridge password"
        assert email.sender.startswith("voltbridge <")

    assert client.get(path).status_code == 200
    done = post_form(client, path, {"new_password": NEW_PASSWORD}, token_from=path)
    assert done.status_code == 302 and done.headers["Location"].startswith("/dashboard/sign-in")
    with services.uow() as uow:
        user = uow.session.execute(select(User)).scalar_one()
        assert verify_password(user.password_hash, NEW_PASSWORD)
        assert all(s.revoked_at is not None for s in uow.session.execute(select(UserSession)).scalars())
    assert elsewhere.get("/dashboard/account").status_code == 302  # signed out by the reset

    # Single use: the same link again is refused, and the password stays.
    assert client.get(path).status_code == 400
    again = post_form(client, path, {"new_password": "another passphrase!"}, token_from="/dashboard/sign-in")
    assert again.status_code == 400
    assert sign_in(client, "owner@shop.test", NEW_PASSWORD).status_code == 302
    assert sign_in(app.test_client(), "owner@shop.test", PASSWORD).status_code == 401


def test_reset_link_expires_after_an_hour(services, client, clock) -> None:
    make_user(services, "owner@shop.test")
    _ask(client, "owner@shop.test")
    path = _mailed_link(services)
    clock.advance(minutes=61)
    assert "not valid, has expired" in client.get(path).get_data(as_text=True)
    assert post_form(client, path, {"new_password": NEW_PASSWORD}).status_code == 400


def test_a_tampered_link_is_refused(services, client) -> None:
    make_user(services, "owner@shop.test")
    _ask(client, "owner@shop.test")
    path = _mailed_link(services)
    token = path.rsplit("/", 1)[1]
    assert client.get(path[:-len(token)] + token[:-2] + ("AA" if not token.endswith("AA") else "BB")).status_code == 400


def test_an_unknown_email_gets_the_same_answer_and_no_mail(services, client) -> None:
    make_user(services, "owner@shop.test")
    known = _ask(client, "owner@shop.test")
    unknown = _ask(client, "nobody@shop.test")
    garbage = _ask(client, "not an email")
    assert known.status_code == unknown.status_code == garbage.status_code == 200
    strip = lambda page: re.sub(r'value="[^"]*"', "", page.get_data(as_text=True))  # noqa: E731
    assert strip(known) == strip(unknown) == strip(garbage)
    with services.uow() as uow:
        assert uow.session.execute(select(Delivery.recipient)).scalars().all() == ["owner@shop.test"]


def test_reset_requests_are_throttled_and_need_csrf(services, client) -> None:
    make_user(services, "owner@shop.test")
    token = csrf_token(client, "/dashboard/forgot-password")
    assert client.post("/dashboard/forgot-password", data={"email": "owner@shop.test"}).status_code == 400
    statuses = [client.post("/dashboard/forgot-password",
                            data={"csrf_token": token, "email": "owner@shop.test"}).status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429
    with services.uow() as uow:
        assert len(uow.session.execute(select(Delivery)).scalars().all()) == 5
