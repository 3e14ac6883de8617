"""Helpers for dashboard tests: accounts made through the core, forms posted with their CSRF token."""

from __future__ import annotations

import re
from typing import Any

from gateway_core.accounts.members import create_store_for, set_member
from gateway_core.accounts.users import Account, create_user
from gateway_core.bootstrap import Services
from gateway_core.stores.manage import NewStore

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def make_user(services: Services, email: str, admin: bool = False) -> Account:
    with services.uow() as uow:
        return create_user(uow, email, PASSWORD, admin=admin)


def make_store(services: Services, owner: Account, name: str = "Shop") -> int:
    with services.uow() as uow:
        return create_store_for(uow, services.vault, owner.id, name=name, network="sandbox").id


def add_member(services: Services, store_id: int, email: str, role: str) -> None:
    with services.uow() as uow:
        set_member(uow, store_id, email, role)


def staffed_store(services: Services) -> NewStore:
    """A sandbox store "Shop" owned by owner@shop.test, with manager@ and viewer@shop.test as members, and
    outsider@other.test an account that belongs to no store of it."""
    owner = make_user(services, "owner@shop.test")
    for email in ("manager@shop.test", "viewer@shop.test", "outsider@other.test"):
        make_user(services, email)
    with services.uow() as uow:
        store = create_store_for(uow, services.vault, owner.id, name="Shop", network="sandbox",
                                 email="owner@shop.test")
    add_member(services, store.id, "manager@shop.test", "manager")
    add_member(services, store.id, "viewer@shop.test", "viewer")
    return store


def csrf_token(client: Any, path: str = "/dashboard/sign-in") -> str:
    page = client.get(path)
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def post_form(client: Any, path: str, data: dict[str, str] | None = None, token_from: str | None = None) -> Any:
    """POST a form as the browser would: with the CSRF token of the page it came from."""
    body = {"csrf_token": csrf_token(client, token_from or "/dashboard/sign-in"), **(data or {})}
    return client.post(path, data=body)


def sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    return post_form(client, "/dashboard/sign-in", {"email": email, "password": password})
