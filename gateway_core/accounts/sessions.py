"""Server-side session records: the cookie carries a random token, the database its digest and revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from gateway_core.accounts.users import Account
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import User, UserSession
from gateway_core.ports import Clock


@dataclass(frozen=True)
class OpenSession:
    id: int
    token: str  # the cookie's secret; only its digest is stored


@dataclass(frozen=True)
class SessionUser:
    session_id: int
    account: Account


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(uow: UnitOfWork, user_id: int, clock: Clock) -> OpenSession:
    """Record a new signed-in session and return its token (kept by the browser alone)."""
    token = secrets.token_urlsafe(32)
    row = UserSession(user_id=user_id, token_digest=_digest(token), created_at=clock.now())
    uow.session.add(row)
    uow.session.flush()
    return OpenSession(row.id, token)


def session_user(uow: UnitOfWork, token: str) -> SessionUser | None:
    """The account of a live (unrevoked) session token, else None."""
    if not token or len(token) > 128:
        return None
    row = uow.session.execute(
        select(UserSession.id, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_digest == _digest(token), UserSession.revoked_at.is_(None))).first()
    if row is None:
        return None
    user = row[1]
    return SessionUser(row[0], Account(user.id, user.email, user.is_admin))


def revoke_session(uow: UnitOfWork, token: str, clock: Clock) -> None:
    """End one session (sign out)."""
    uow.session.execute(update(UserSession).where(UserSession.token_digest == _digest(token),
                                                  UserSession.revoked_at.is_(None)).values(revoked_at=clock.now()))


def revoke_all(uow: UnitOfWork, user_id: int, clock: Clock) -> int:
    """End every session of the user (sign out everywhere); the number ended."""
    result = uow.session.execute(update(UserSession).where(UserSession.user_id == user_id,
                                                           UserSession.revoked_at.is_(None))
                                 .values(revoked_at=clock.now()))
    return int(getattr(result, "rowcount", 0) or 0)
