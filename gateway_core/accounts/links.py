"""Emailed account links: password reset and invitations (itsdangerous-signed, time-limited, single use).

A link carries the user id, its purpose, when it was issued, and a fingerprint of the user's password hash.
Setting a password changes the hash, so a link works once and every older link dies with it. The issue
time is checked against the gateway's clock (tests drive it), not the signer's own wall clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from gateway_core.accounts.mail import enqueue_account_email
from gateway_core.accounts.passwords import hash_password
from gateway_core.accounts.sessions import revoke_all
from gateway_core.accounts.users import Account, normalise_email
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.i18n import DEFAULT
from gateway_core.adapters.models import User
from gateway_core.domain.errors import GatewayError, ValidationFailed
from gateway_core.ports import Clock

RESET_HOURS = 1
INVITE_HOURS = 72
PURPOSES = {"reset": RESET_HOURS, "invite": INVITE_HOURS}
# The hash an invited account holds until its link is used: argon2 cannot verify it, so no password opens it.
UNSET_PASSWORD = "!invited"  # noqa: S105  (a marker, not a password)


class InvalidLink(GatewayError):
    code = "INVALID_LINK"


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="voltbridge-account-link")


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def make_link_token(secret: str, user: User, purpose: str, clock: Clock) -> str:
    return str(_serializer(secret).dumps({"u": user.id, "p": purpose, "f": _fingerprint(user.password_hash),
                                          "t": int(clock.now().timestamp())}))


def send_link(uow: UnitOfWork, secret: str, user: User, purpose: str, link_for: Callable[[str], str],
              clock: Clock, language: str = DEFAULT) -> None:
    """Email `user` a link for `purpose` (reset | invite) in `language`, through the outbox in this transaction."""
    token = make_link_token(secret, user, purpose, clock)
    enqueue_account_email(uow, user.email, purpose, link_for(token), clock.now(), PURPOSES[purpose], language)


def request_reset(uow: UnitOfWork, secret: str, email: str, link_for: Callable[[str], str], clock: Clock,
                  language: str = DEFAULT) -> None:
    """Email a reset link if the account exists; the same answer (none) either way, so nothing is revealed.
    Accounts keep no language: the email is in the one the request was made in (the caller's `language`)."""
    try:
        email = normalise_email(email)
    except ValidationFailed:
        return
    user = uow.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is not None:
        send_link(uow, secret, user, "invite" if user.password_hash == UNSET_PASSWORD else "reset",
                  link_for, clock, language)


def invite(uow: UnitOfWork, secret: str, email: str, link_for: Callable[[str], str], clock: Clock,
           language: str = DEFAULT) -> bool:
    """Make sure an account exists for `email`: a new one (no password yet, not an admin) is emailed an invite
    link, and so is one still waiting for its first password; an account already in use is left alone.
    Whether an email went out. Works with open sign-up off: an invite is how accounts are added then.
    `language`: the inviting store's, else the inviter's page's (the account keeps none)."""
    email = normalise_email(email)
    user = uow.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        user = User(email=email, password_hash=UNSET_PASSWORD, is_admin=False, created_at=clock.now())
        uow.session.add(user)
        uow.session.flush()
    elif user.password_hash != UNSET_PASSWORD:
        return False
    send_link(uow, secret, user, "invite", link_for, clock, language)
    return True


def is_invited(password_hash: str) -> bool:
    """Invited and not yet arrived (no password set)."""
    return password_hash == UNSET_PASSWORD


def people(uow: UnitOfWork) -> list[tuple[Account, bool]]:
    """Every account, oldest first, with whether it is an invite not yet taken up."""
    users = uow.session.execute(select(User).order_by(User.id)).scalars()
    return [(Account(u.id, u.email, u.is_admin), is_invited(u.password_hash)) for u in users]


def link_user(uow: UnitOfWork, secret: str, token: str, clock: Clock) -> tuple[User, str]:
    """The user and purpose of a link still good to use, else InvalidLink (tampered, expired or used)."""
    try:
        data: Any = _serializer(secret).loads(token)
        user_id, purpose, fingerprint, issued = int(data["u"]), str(data["p"]), str(data["f"]), int(data["t"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidLink("This link is not valid") from None
    hours = PURPOSES.get(purpose)
    age = clock.now().timestamp() - issued
    user = uow.session.get(User, user_id)
    if hours is None or user is None or not 0 <= age <= hours * 3600 or fingerprint != _fingerprint(
            user.password_hash):
        raise InvalidLink("This link has expired or was already used")
    return user, purpose


def use_link(uow: UnitOfWork, secret: str, token: str, new_password: str, clock: Clock) -> Account:
    """Set the password through a link (once), and end every session of the account."""
    user, _purpose = link_user(uow, secret, token, clock)
    user.password_hash = hash_password(new_password)
    uow.session.flush()
    revoke_all(uow, user.id, clock)
    return Account(user.id, user.email, user.is_admin)


def link_lifetime(purpose: str) -> timedelta:
    return timedelta(hours=PURPOSES[purpose])
