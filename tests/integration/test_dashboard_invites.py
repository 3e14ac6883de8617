"""Invites (issue 22): the server admin invites by email (open sign-up off), and a store owner adding someone
with no account invites them; the emailed link sets the password once."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway_core.accounts.members import members_of
from gateway_core.adapters.models import Email
from gateway_core.bootstrap import dispatcher_for
from tests.integration.dashboard_support import make_store, make_user, post_form, sign_in

NEW_PASSWORD = "an invited passphrase"
LINK = re.compile(r"https://gateway\.test(/dashboard/password/[A-Za-z0-9_.\-]+)")
ADMIN = "/dashboard/admin/users"


def _mailed(services, recipient: str) -> str:
    dispatcher_for(services).run_until_idle()
    with services.uow() as uow:
        emails = uow.session.execute(select(Email).where(Email.recipient == recipient)).scalars().all()
    assert len(emails) == 1 and emails[0].subject == "You are invited to a voltbridge dashboard"
    found = LINK.search(emails[0].text_body)
    assert found
    return found.group(1)


def test_admin_invites_with_signup_closed_and_the_link_works_once(services, app) -> None:
    assert not services.settings.allow_signup
    make_user(services, "admin@gw.test", admin=True)
    admin = app.test_client()
    sign_in(admin, "admin@gw.test")
    sent = post_form(admin, ADMIN, {"email": "New@Shop.test"}, token_from=ADMIN)
    assert sent.status_code == 200 and "Invitation sent." in sent.get_data(as_text=True)
    assert "new@shop.test" in sent.get_data(as_text=True) and "Invited" in sent.get_data(as_text=True)
    # No password opens an invited account before its link is used.
    assert sign_in(app.test_client(), "new@shop.test", "!invited").status_code in (400, 401)

    path = _mailed(services, "new@shop.test")
    guest = app.test_client()
    assert "choose the password of your new account" in guest.get(path).get_data(as_text=True)
    assert post_form(guest, path, {"new_password": NEW_PASSWORD}, token_from=path).status_code == 302
    assert guest.get(path).status_code == 400
    assert sign_in(guest, "new@shop.test", NEW_PASSWORD).status_code == 302
    again = post_form(admin, ADMIN, {"email": "new@shop.test"}, token_from=ADMIN)
    assert "already has an account" in again.get_data(as_text=True)


def test_only_the_admin_sees_the_people_page(services, app) -> None:
    make_user(services, "admin@gw.test", admin=True)
    make_user(services, "owner@shop.test")
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    assert client.get(ADMIN).status_code == 403
    assert post_form(client, ADMIN, {"email": "x@shop.test"}, token_from="/dashboard/account").status_code == 403


def test_owner_adding_someone_without_an_account_invites_them(services, app) -> None:
    owner = make_user(services, "owner@shop.test")
    store_id = make_store(services, owner)
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    page = f"/dashboard/stores/{store_id}"
    added = post_form(client, f"{page}/members", {"email": "helper@shop.test", "role": "viewer"}, token_from=page)
    assert added.status_code == 200 and "Invitation sent." in added.get_data(as_text=True)
    with services.uow() as uow:
        assert [(m.email, m.role) for m in members_of(uow, store_id)] == [
            ("owner@shop.test", "owner"), ("helper@shop.test", "viewer")]
    path = _mailed(services, "helper@shop.test")
    helper = app.test_client()
    assert post_form(helper, path, {"new_password": NEW_PASSWORD}, token_from=path).status_code == 302
    sign_in(helper, "helper@shop.test", NEW_PASSWORD)
    assert helper.get(page).status_code == 200
