"""The dashboard in the visitor's language (issue 22 point 8): the older pages and their messages through the
locale files, and the account emails (reset, invite) in the recipient's language."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select

from gateway_core.adapters.models import Email, Store
from gateway_core.bootstrap import dispatcher_for
from tests.integration.dashboard_support import PASSWORD, csrf_token, make_store, make_user, post_form, sign_in

LOCALES = Path(__file__).resolve().parents[2] / "locales"
LINK = re.compile(r"https://gateway\.test/dashboard/password/[A-Za-z0-9_.\-]+")
# What these pages said in English before their strings moved to the locale files.
ENGLISH = ("Sign in", "Create an account", "Change password", "Sign out everywhere", "Sessions", "Stores",
           "Your role", "Create a store", "API keys", "Members", "Add a member", "settlement",
           "emails in", "Create or rotate", "Create key", "Revoke", "New store", "Create store",
           "Sandbox stores get", "Network", "Password", "Email", "Back to your stores")


def _strings(lang: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _german(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9"
    return client


def test_the_older_pages_and_their_messages_speak_german(services, app) -> None:
    owner = make_user(services, "owner@shop.test")
    store_id = make_store(services, owner)
    de = _strings("de")
    client = _german(app)
    sign_in_page = client.get("/dashboard/sign-in").get_data(as_text=True)
    assert de["dash_sign_in"] in sign_in_page and de["dash_field_password"] in sign_in_page
    wrong = post_form(client, "/dashboard/sign-in", {"email": "owner@shop.test", "password": "nope"})
    assert wrong.status_code == 401 and de["dash_wrong_credentials"] in wrong.get_data(as_text=True)
    assert sign_in(client, "owner@shop.test", PASSWORD).status_code == 302

    pages = {path: client.get(path) for path in (
        "/dashboard/", "/dashboard/account", "/dashboard/stores/new", f"/dashboard/stores/{store_id}",
        f"/dashboard/stores/{store_id}/keys", f"/dashboard/stores/{store_id}/edit", "/dashboard/no-such-page")}
    for path, answer in pages.items():
        html = answer.get_data(as_text=True)
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<(code|option)[^>]*>.*?</\1>", " ", html, flags=re.S))
        left = [english for english in ENGLISH if re.search(rf"\b{english}\b", text)]
        assert left == [], (path, left)
        assert '<html lang="de">' in html, path
    store_page = pages[f"/dashboard/stores/{store_id}"].get_data(as_text=True)
    assert de["dash_role_owner"] in store_page and "Deutsch" not in store_page  # the store's emails: English
    assert de["dash_problem_404"] in pages["/dashboard/no-such-page"].get_data(as_text=True)

    # WTForms' own messages and the field labels of a refused form come from the locale files too.
    refused = post_form(client, "/dashboard/stores/new", {"name": "", "network": "sandbox"},
                        token_from="/dashboard/stores/new")
    assert refused.status_code == 400
    assert f'{de["dash_field_name"]}: {de["dash_err_required"]}' in refused.get_data(as_text=True)
    # The core's refusals a person meets on these pages too (the core itself speaks English to every caller).
    short = post_form(client, "/dashboard/account", {"current_password": PASSWORD, "new_password": "short"},
                      token_from="/dashboard/account")
    assert short.status_code == 422
    assert de["dash_core_invalid_password"].replace("{min}", "10").replace("{max}", "256") in short.get_data(
        as_text=True)
    changed = post_form(client, "/dashboard/account", {"current_password": PASSWORD, "new_password": "x" * 16},
                        token_from="/dashboard/account")
    assert de["dash_password_changed"] in changed.get_data(as_text=True)


def _only_email(services, recipient: str) -> Email:
    dispatcher_for(services).run_until_idle()
    with services.uow() as uow:
        (email,) = uow.session.execute(select(Email).where(Email.recipient == recipient)).scalars().all()
        uow.session.expunge(email)
    assert LINK.search(email.text_body) and LINK.search(email.html_body)
    return email


def test_a_reset_email_is_in_the_language_it_was_asked_in(services, app) -> None:
    make_user(services, "owner@shop.test")
    de = _strings("de")
    client = _german(app)
    post_form(client, "/dashboard/forgot-password", {"email": "owner@shop.test"},
              token_from="/dashboard/forgot-password")
    email = _only_email(services, "owner@shop.test")
    assert email.subject == de["email_account_reset_subject"]
    intro = de["email_account_reset_intro"].replace("{email}", "owner@shop.test").replace("{hours}", "1")
    assert intro in email.text_body and de["email_account_reset_ignore"] in email.text_body
    assert '<html lang="de">' in email.html_body and de["email_account_reset_headline"] in email.html_body


def test_an_invite_is_in_the_inviting_stores_language_else_the_admins_page(services, app) -> None:
    make_user(services, "admin@gw.test", admin=True)
    owner = make_user(services, "owner@shop.test")
    store_id = make_store(services, owner)
    with services.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None
        store.language = "fr"
    # The owner reads the dashboard in German; the store writes to people in French.
    client = _german(app)
    sign_in(client, "owner@shop.test")
    page = f"/dashboard/stores/{store_id}"
    post_form(client, f"{page}/members", {"email": "helper@shop.test", "role": "viewer"}, token_from=page)
    fr = _strings("fr")
    by_store = _only_email(services, "helper@shop.test")
    assert by_store.subject == fr["email_account_invite_subject"]
    assert fr["email_account_invite_intro"].replace("{email}", "helper@shop.test").replace(
        "{hours}", "72") in by_store.text_body

    admin = app.test_client()
    admin.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    sign_in(admin, "admin@gw.test")
    admin.post("/dashboard/admin/users", data={"csrf_token": csrf_token(admin, "/dashboard/admin/users"),
                                              "email": "new@shop.test"})
    by_admin = _only_email(services, "new@shop.test")
    assert by_admin.subject == _strings("zh-Hans")["email_account_invite_subject"]
