"""Per-key request budgets: which key called (with its limit) in one query, and setting a key's limit.

The counting itself belongs to the web layer (in process, or in Redis when several web processes run); the
core only knows who called and how many requests a minute that key may make.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ApiKey
from gateway_core.domain.errors import ValidationFailed
from gateway_core.keys.api_keys import KEY_KINDS, Caller, caller_of, digest_of, key_is_live, valid_key
from gateway_core.ports import Clock

# VentaConnect documents 120 requests a minute per key; a key without its own limit gets its contract's
# default: this one, or for VOLTXT the VOLTXT_RATE_LIMIT_PER_MINUTE setting (600 unless set).
DEFAULT_PER_MINUTE = 120
MAX_PER_MINUTE = 1_000_000


def authenticate_caller(uow: UnitOfWork, raw_key: object, clock: Clock, kind: str,
                        default: int = DEFAULT_PER_MINUTE) -> Caller:
    """As keys.authenticate (the same lookup), with the key's requests per minute (`default` when it has none)."""
    digest = digest_of(raw_key, kind)
    caller = caller_of(valid_key(uow, digest, clock, kind), digest, kind)
    return replace(caller, per_minute=caller.per_minute or default)


def set_rate_limit(uow: UnitOfWork, store_id: int, kind: str, per_minute: int | None, clock: Clock) -> int:
    """Set the limit of the store's live keys of this kind (None: back to the default); returns how many."""
    if kind not in KEY_KINDS:
        raise ValidationFailed("Unknown key kind", errors={"kind": f"must be one of {', '.join(KEY_KINDS)}"})
    if per_minute is not None and not 1 <= per_minute <= MAX_PER_MINUTE:
        raise ValidationFailed("Invalid rate limit", errors={"per_minute": f"must be from 1 to {MAX_PER_MINUTE}"})
    result = uow.session.execute(
        update(ApiKey)
        .where(ApiKey.store_id == store_id, ApiKey.kind == kind,
               key_is_live(clock.now()))
        .values(rate_limit_per_minute=per_minute)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class KeyLimit:
    created_at: datetime
    expires_at: datetime | None  # set once the key was rotated away (grace period)
    per_minute: int
    default: bool


def rate_limits(uow: UnitOfWork, store_id: int, kind: str, clock: Clock,
                default: int = DEFAULT_PER_MINUTE) -> list[KeyLimit]:
    """The limit of each live key of the store and kind (`default` for keys without their own), oldest first."""
    rows = uow.session.execute(
        select(ApiKey.created_at, ApiKey.expires_at, ApiKey.rate_limit_per_minute)
        .where(ApiKey.store_id == store_id, ApiKey.kind == kind,
               key_is_live(clock.now()))
        .order_by(ApiKey.created_at, ApiKey.id)
    ).all()
    return [KeyLimit(created, expires, limit or default, limit is None) for created, expires, limit in rows]
