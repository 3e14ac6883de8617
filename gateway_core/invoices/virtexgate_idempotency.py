"""VirtexGate's Idempotency-Key: the same key and body replay the first 201; another body with the key is a 409.

The key is claimed (a row inserted under a unique constraint) in the same transaction that creates the invoice
and records the response, so a crash leaves either all three or none. Two concurrent requests with one key
serialise on that row: PostgreSQL makes the second INSERT wait for the first transaction, SQLite's BEGIN
IMMEDIATE makes the second transaction wait; either way the second sees the first's response and replays it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import VirtexgateIdempotencyKey
from gateway_core.domain.errors import GatewayError, ValidationFailed

KEPT_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyConflict(GatewayError):
    """The key was used before with a different request body."""

    code = "IDEMPOTENCY_CONFLICT"


@dataclass(frozen=True)
class Replay:
    """The response recorded for the first request with this key."""

    status: int
    body: str


def request_digest(canonical_body: str) -> str:
    return hashlib.sha256(canonical_body.encode()).hexdigest()


def check_key(key: str) -> str:
    """The header's value, or ValidationFailed for a key we could not store faithfully."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or key != key.strip():
        raise ValidationFailed(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
                               errors={"Idempotency-Key": "invalid"})
    return key


def claim(uow: UnitOfWork, scope: str, store_id: int, key: str, digest: str,
          now: datetime) -> Replay | VirtexgateIdempotencyKey:
    """Replay the earlier response for this key, or claim the key for this request (complete() it later)."""
    session = uow.session
    # Expired keys of this API key go first: they no longer count, and the unique constraint must admit the
    # key again. Cleaning up per API key bounds the garbage a key leaves behind to its last day of requests.
    session.execute(delete(VirtexgateIdempotencyKey).where(
        VirtexgateIdempotencyKey.api_key_ref == scope, VirtexgateIdempotencyKey.expires_at <= now))
    found = _find(uow, scope, key)
    if found is not None:
        return _replay(found, digest)
    row = VirtexgateIdempotencyKey(store_id=store_id, api_key_ref=scope, idempotency_key=key,
                                   request_digest=digest, created_at=now, expires_at=now + KEPT_FOR)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A concurrent request with this key committed first (this INSERT waited for it): answer as it did.
        found = _find(uow, scope, key)
        if found is None:
            raise
        return _replay(found, digest)
    return row


def complete(row: VirtexgateIdempotencyKey, status: int, body: str) -> None:
    """Record the response to replay, in the transaction that claimed the key."""
    row.response_status, row.response_body = status, body


def _find(uow: UnitOfWork, scope: str, key: str) -> VirtexgateIdempotencyKey | None:
    return uow.session.execute(select(VirtexgateIdempotencyKey).where(
        VirtexgateIdempotencyKey.api_key_ref == scope, VirtexgateIdempotencyKey.idempotency_key == key)
    ).scalar_one_or_none()


def _replay(found: VirtexgateIdempotencyKey, digest: str) -> Replay:
    if found.request_digest != digest or found.response_status is None or found.response_body is None:
        raise IdempotencyConflict("Idempotency-Key was already used with a different request body")
    return Replay(found.response_status, found.response_body)
