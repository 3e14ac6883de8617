"""Per-key request budgets: which key called (with its limit) in one query, and setting a key's limit.

The counting itself belongs to the web layer (in process, or in Redis when several web processes run); the
core only knows who called and how many requests a minute that key may make.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ApiKey, Store
from gateway_core.adapters.secrets import digests_match, key_digest
from gateway_core.domain.errors import InvalidApiKey, ValidationFailed
from gateway_core.ports import Clock
from gateway_core.services.keys import KEY_KINDS, plausible_key

# VentaConnect documents 120 requests a minute per key; a key without its own limit gets its contract's
# default: this one, or for VOLTXT the VOLTXT_RATE_LIMIT_PER_MINUTE setting (600 unless set).
DEFAULT_PER_MINUTE = 120
MAX_PER_MINUTE = 1_000_000


@dataclass(frozen=True)
class Caller:
    """The store behind a key, a stable name for the key's counter, and the key's budget."""

    store: Store
    bucket: str  # a prefix of the key's lookup digest: names the key without revealing it
    per_minute: int


def bucket_name(kind: str, digest: str) -> str:
    """The counter's name for a key: its kind and a prefix of its lookup digest (names it without revealing it)."""
    return f"{kind}:{digest[:24]}"


def authenticate_caller(uow: UnitOfWork, raw_key: object, clock: Clock, kind: str,
                        default: int = DEFAULT_PER_MINUTE) -> Caller:
    """As keys.authenticate (same rules, one round trip), plus the key's rate limit (`default` when it has none)."""
    if not isinstance(raw_key, str) or not plausible_key(kind, raw_key):
        raise InvalidApiKey("The provided API key is invalid")
    digest = key_digest(raw_key)
    row = uow.session.execute(
        select(ApiKey.digest, ApiKey.rate_limit_per_minute, Store)
        .join(Store, Store.id == ApiKey.store_id)
        .options(joinedload(Store.wallets))
        .where(ApiKey.digest == digest, ApiKey.kind == kind,
               or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > clock.now()))
    ).unique().first()
    if row is None or not digests_match(row[0], digest):
        raise InvalidApiKey("The provided API key is invalid")
    return Caller(row[2], bucket_name(kind, digest), row[1] or default)


def set_rate_limit(uow: UnitOfWork, store_id: int, kind: str, per_minute: int | None, clock: Clock) -> int:
    """Set the limit of the store's live keys of this kind (None: back to the default); returns how many."""
    if kind not in KEY_KINDS:
        raise ValidationFailed("Unknown key kind", errors={"kind": f"must be one of {', '.join(KEY_KINDS)}"})
    if per_minute is not None and not 1 <= per_minute <= MAX_PER_MINUTE:
        raise ValidationFailed("Invalid rate limit", errors={"per_minute": f"must be from 1 to {MAX_PER_MINUTE}"})
    result = uow.session.execute(
        update(ApiKey)
        .where(ApiKey.store_id == store_id, ApiKey.kind == kind,
               or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > clock.now()))
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
               or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > clock.now()))
        .order_by(ApiKey.created_at, ApiKey.id)
    ).all()
    return [KeyLimit(created, expires, limit or default, limit is None) for created, expires, limit in rows]
