"""Store membership and roles: owner (everything), manager (all but keys, wallets and members), viewer (reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Store, StoreMember, User
from gateway_core.adapters.secrets import KeyVault
from gateway_core.domain.errors import GatewayError, StoreNotFound, ValidationFailed, said
from gateway_core.stores.manage import NewStore, create_store

ROLES = ("owner", "manager", "viewer")
# What each role may do in its store; every dashboard page and action asks for one of these.
PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset({"view", "edit", "keys", "wallets", "members"}),
    "manager": frozenset({"view", "edit"}),
    "viewer": frozenset({"view"}),
}


class Forbidden(GatewayError):
    """The user is a member of the store, but their role does not allow this."""

    code = "FORBIDDEN"


@dataclass(frozen=True)
class Membership:
    store: Store
    role: str

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    role: str


def create_store_for(uow: UnitOfWork, vault: KeyVault, user_id: int, **fields: Any) -> NewStore:
    """Create a store through the core's one store creation, with the user as its owner."""
    created = create_store(uow, vault, **fields)
    uow.session.add(StoreMember(store_id=created.id, user_id=user_id, role="owner"))
    return created


def membership(uow: UnitOfWork, store_id: int, user_id: int, permission: str = "view") -> Membership:
    """The user's membership of the store if their role allows `permission`.

    StoreNotFound when they are not a member (another store's objects answer as if absent), Forbidden when
    their role falls short.
    """
    row = uow.session.execute(
        select(Store, StoreMember.role).join(StoreMember, StoreMember.store_id == Store.id)
        .where(Store.id == store_id, StoreMember.user_id == user_id)).first()
    if row is None:
        raise StoreNotFound(f"store {store_id} not found")
    found = Membership(row[0], row[1])
    if not found.may(permission):
        raise Forbidden("Your role in this store does not allow this")
    return found


def stores_of(uow: UnitOfWork, user_id: int) -> list[Membership]:
    """The stores the user belongs to, with their role, oldest first."""
    rows = uow.session.execute(
        select(Store, StoreMember.role).join(StoreMember, StoreMember.store_id == Store.id)
        .where(StoreMember.user_id == user_id).order_by(Store.id))
    return [Membership(store, role) for store, role in rows]


def members_of(uow: UnitOfWork, store_id: int) -> list[Member]:
    """The store's members, owners first."""
    rows = uow.session.execute(
        select(User.id, User.email, StoreMember.role).join(StoreMember, StoreMember.user_id == User.id)
        .where(StoreMember.store_id == store_id).order_by(StoreMember.id))
    members = [Member(*row) for row in rows]
    return sorted(members, key=lambda m: ROLES.index(m.role))


def set_member(uow: UnitOfWork, store_id: int, email: str, role: str) -> Member:
    """Give an existing account a role in the store (or change it); the store keeps at least one owner."""
    if role not in ROLES:
        raise ValidationFailed(said("invalid_role", "Invalid role"), errors={
            "role": said("d_one_of", f"one of {', '.join(ROLES)}", choices=", ".join(ROLES))})
    user = uow.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise ValidationFailed(said("no_account", "No such account"),
                               errors={"email": said("d_no_account", "no account with this email")})
    row = uow.session.execute(select(StoreMember).where(StoreMember.store_id == store_id,
                                                        StoreMember.user_id == user.id)).scalar_one_or_none()
    if row is None:
        uow.session.add(StoreMember(store_id=store_id, user_id=user.id, role=role))
    else:
        if row.role == "owner" and role != "owner":
            _keep_an_owner(uow, store_id)
        row.role = role
    return Member(user.id, user.email, role)


def remove_member(uow: UnitOfWork, store_id: int, user_id: int) -> None:
    """Take a user out of the store; the last owner cannot be removed."""
    row = uow.session.execute(select(StoreMember).where(StoreMember.store_id == store_id,
                                                        StoreMember.user_id == user_id)).scalar_one_or_none()
    if row is None:
        raise ValidationFailed(said("not_member", "Not a member"),
                               errors={"user": said("d_not_member", "not a member of this store")})
    if row.role == "owner":
        _keep_an_owner(uow, store_id)
    uow.session.delete(row)


def _keep_an_owner(uow: UnitOfWork, store_id: int) -> None:
    owners = uow.session.execute(select(func.count(StoreMember.id)).where(
        StoreMember.store_id == store_id, StoreMember.role == "owner")).scalar_one()
    if owners <= 1:
        raise ValidationFailed(said("last_owner", "A store needs an owner"),
                               errors={"role": said("d_last_owner", "the store's last owner")})
