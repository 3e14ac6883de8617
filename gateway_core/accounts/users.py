"""Creating users, signing in, and changing passwords."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from gateway_core.accounts.passwords import hash_password, verify_password
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import User, UserSession
from gateway_core.domain.errors import GatewayError, ValidationFailed, said
from gateway_core.ports import Clock


class InvalidCredentials(GatewayError):
    code = "INVALID_CREDENTIALS"


class SignupClosed(GatewayError):
    code = "SIGNUP_CLOSED"


@dataclass(frozen=True)
class Account:
    """What the bridge knows of a signed-in user."""

    id: int
    email: str
    is_admin: bool


def _account(user: User) -> Account:
    return Account(user.id, user.email, user.is_admin)


def normalise_email(email: str) -> str:
    """The email as stored: trimmed and lower-cased; ValidationFailed when it cannot be an address."""
    email = email.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise ValidationFailed(said("invalid_email", "Invalid email"),
                               errors={"email": said("d_an_email", "an email address")})
    return email


def has_users(uow: UnitOfWork) -> bool:
    """Whether any account exists yet (the first one becomes the admin)."""
    return uow.session.execute(select(User.id).limit(1)).first() is not None


def create_user(uow: UnitOfWork, email: str, password: str, *, admin: bool = False,
                open_signup: bool = True) -> Account:
    """Create an account. The first account is the admin; later ones need open sign-up (or an admin caller)."""
    email = normalise_email(email)
    first = not has_users(uow)
    if not first and not open_signup:
        raise SignupClosed(said("signup_closed", "Sign-up is closed on this gateway"))
    if uow.session.execute(select(User.id).where(User.email == email)).first() is not None:
        raise ValidationFailed(said("email_taken", "Email already registered"),
                               errors={"email": said("d_already_registered", "already registered")})
    user = User(email=email, password_hash=hash_password(password), is_admin=admin or first)
    uow.session.add(user)
    uow.session.flush()
    return _account(user)


def list_users(uow: UnitOfWork) -> list[Account]:
    """Every account, oldest first."""
    return [_account(u) for u in uow.session.scalars(select(User).order_by(User.id))]


def user_count(uow: UnitOfWork) -> int:
    return int(uow.session.execute(select(func.count(User.id))).scalar_one())


def account_of(uow: UnitOfWork, user_id: int) -> Account | None:
    user = uow.session.get(User, user_id)
    return None if user is None else _account(user)


def check_password(uow: UnitOfWork, email: str, password: str) -> Account:
    """The account these credentials open, or InvalidCredentials (the same for an unknown email)."""
    user = uow.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials("Wrong email or password")
    return _account(user)


def change_password(uow: UnitOfWork, user_id: int, current: str, new: str, clock: Clock,
                    keep_session: int | None = None) -> None:
    """Set a new password and end every other session of the user (the one making the change may stay)."""
    user = uow.session.get(User, user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise InvalidCredentials("Wrong current password", errors={"current_password": "wrong password"})
    user.password_hash = hash_password(new)
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep_session is not None:
        query = query.where(UserSession.id != keep_session)
    uow.session.execute(query.values(revoked_at=clock.now()))
