"""Who is signed in, and what they may do: the session record, the store role, and sign-in throttling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from bridge.dashboard.blueprint import login_manager
from bridge.extensions import services
from bridge.ratelimit import RedisTokenBucket, StatusBucket, TokenBucket
from gateway_core.accounts.members import Membership, membership
from gateway_core.accounts.sessions import session_user
from gateway_core.accounts.users import Account
from gateway_core.ports import Clock

# Sign-in attempts: per account (a password guessed slowly) and per client (many accounts tried from one place).
SIGNIN_PER_ACCOUNT = (5, 5)  # per minute, burst
SIGNIN_PER_CLIENT = (20, 10)


class DashboardUser:
    """Flask-Login's user: its id is the session token, so loading it checks the revocable session record."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, token: str, session_id: int, account: Account) -> None:
        self.token = token
        self.session_id = session_id
        self.account = account

    def get_id(self) -> str:
        return self.token


@login_manager.user_loader
def _load(token: str) -> DashboardUser | None:
    svc = services()
    with svc.uow(read_only=True) as uow:
        found = session_user(uow, token)
    return None if found is None else DashboardUser(token, found.session_id, found.account)


def signed_in() -> DashboardUser:
    """The signed-in user (routes are behind login_required)."""
    return current_user._get_current_object()  # type: ignore[no-any-return]


def store_for(uow: Any, store_id: int, permission: str = "view") -> Membership:
    """The signed-in user's membership of the store, if the role allows `permission` (404 / 403 otherwise)."""
    return membership(uow, store_id, signed_in().account.id, permission)


def store_action(permission: str, form: type[FlaskForm] | None = None,
                 invalid: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A store route's preamble, stated once: signed in, then the role allows `permission` (404 / 403 before
    anything is read from the request), then the posted `form` valid, handed to the view as `form=`; an
    invalid one is answered by `invalid(form=..., <the route's arguments>)`.

    The view still asks store_for() again in its own writing unit of work, for the store it changes: a role
    removed between the two answers there, not here."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def guarded(store_id: int, **route: Any) -> Any:
            with services().uow(read_only=True) as uow:
                store_for(uow, store_id, permission)
            if form is None:
                return view(store_id=store_id, **route)
            posted = form()
            if not posted.validate_on_submit():
                assert invalid is not None, "a form needs its answer for invalid input"
                return invalid(form=posted, store_id=store_id, **route)
            return view(store_id=store_id, form=posted, **route)

        return guarded

    return decorate


@dataclass
class SignInLimits:
    account: StatusBucket
    client: StatusBucket


class _ClockedBucket:
    """A bucket read on the gateway's clock, in this process or in Redis (tests drive it with a FrozenClock)."""

    def __init__(self, bucket: TokenBucket | RedisTokenBucket, clock: Clock) -> None:
        self._bucket = bucket
        self._clock = clock

    def take(self, key: str) -> float:
        return self._bucket.take(key, self._clock.now().timestamp())


def _bucket(redis_url: str, rate: tuple[int, int], name: str, clock: Clock) -> StatusBucket:
    if not redis_url:
        return _ClockedBucket(TokenBucket(rate[0], rate[1]), clock)
    return _ClockedBucket(RedisTokenBucket.from_url(redis_url, rate[0], rate[1], prefix=f"voltbridge:{name}:"), clock)


def install(app: Flask) -> None:
    """The sign-in buckets: in Redis when REDIS_URL is set, so every web process shares one budget."""
    svc = services(app)
    url = svc.settings.redis_url
    app.extensions["voltbridge.signin"] = SignInLimits(
        _bucket(url, SIGNIN_PER_ACCOUNT, "signin-account", svc.clock),
        _bucket(url, SIGNIN_PER_CLIENT, "signin-client", svc.clock))


def sign_in_wait(email: str) -> float:
    """0 when this sign-in attempt may go ahead, else the seconds this account or this client must wait."""
    limits: SignInLimits = current_app.extensions["voltbridge.signin"]
    client = limits.client.take(request.remote_addr or "-")
    return max(client, limits.account.take(email.strip().lower()))
