"""VeltPay request authentication: key id, Unix-seconds timestamp within ±300 s, HMAC-SHA256 of the canonical
string (shared/specs/veltpay-api.txt, "Authentication (HMAC)").

Replays inside the window are judged by what they would do. A read (GET, HEAD) changes nothing, so the same
signed read is answered every time (pollers send identical requests within a second). A signature that
changes something is recorded once; a copy of it is flagged as a replay and answered idempotently by its
handler (POST /v1/orders returns the same order), never run as a second, different request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ApiKey, VeltpaySignature
from gateway_core.adapters.secrets import KeyVault
from gateway_core.domain.errors import InvalidApiKey
from gateway_core.keys.api_keys import key_is_live
from gateway_core.keys.usage import KEY_USAGE
from gateway_core.ports import Clock

WINDOW_SECONDS = 300
PRUNE_EVERY_SECONDS = 60.0
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")
_UNIX_SECONDS = re.compile(r"^[0-9]{1,16}$")
READS = ("GET", "HEAD")
MILLISECONDS_FROM = 10**11  # as seconds, the year 5138: a timestamp this large was sent in milliseconds
_next_prune = 0.0  # per process: pruning is housekeeping, one process doing it now and then is plenty


class RequestRejected(InvalidApiKey):
    """A signed request refused (401), with VeltPay's reason: missing_authentication, invalid_timestamp,
    stale_timestamp, future_timestamp, invalid_api_key or invalid_signature."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Authenticated:
    store_id: int
    replay: bool  # a request that changes something, whose signature was accepted before (answer idempotently)


@dataclass(frozen=True)
class SignedRequest:
    key_id: str | None
    timestamp: str | None
    signature: str | None
    method: str
    path: str  # the request path including its query string, as the client sent it
    body: bytes


def canonical_string(timestamp: str, method: str, path: str, body: bytes) -> bytes:
    """ts + "\\n" + METHOD + "\\n" + path + "\\n" + sha256hex(body)."""
    return "\n".join((timestamp, method.upper(), path, hashlib.sha256(body).hexdigest())).encode()


def request_signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    return hmac.new(secret.encode(), canonical_string(timestamp, method, path, body), hashlib.sha256).hexdigest()


def authenticate_request(uow: UnitOfWork, vault: KeyVault, clock: Clock, signed: SignedRequest) -> Authenticated:
    """The store the request is signed for, and whether it replays an earlier request; or RequestRejected.

    The signature of a request that changes something is recorded in `uow`.
    """
    if not signed.key_id or not signed.timestamp or not signed.signature:
        raise RequestRejected("missing_authentication",
                              "Send X-Api-Key, X-Timestamp and X-Signature on every request")
    sent_at = _sent_at(signed.timestamp, clock.now())
    if not _SIGNATURE.match(signed.signature):
        raise RequestRejected("invalid_signature", "X-Signature must be 64 hex characters (HMAC-SHA256)")
    found = _key(uow, signed.key_id, clock.now()) if _KEY_ID.match(signed.key_id) else None
    if found is None:
        raise RequestRejected("invalid_api_key", "Unknown, revoked or expired X-Api-Key")
    store_id, encrypted = found
    expected = request_signature(vault.decrypt(encrypted), signed.timestamp, signed.method, signed.path, signed.body)
    if not hmac.compare_digest(expected, signed.signature.lower()):
        raise RequestRejected("invalid_signature",
                              "X-Signature does not match: sign ts\\nMETHOD\\npath?query\\nsha256hex(body) "
                              "with the key's secret")
    KEY_USAGE.seen_public_id(signed.key_id)
    if signed.method.upper() in READS:
        return Authenticated(store_id, replay=False)
    replay = _spend(uow, signed.key_id, expected, sent_at + timedelta(seconds=WINDOW_SECONDS + 1), clock.now())
    return Authenticated(store_id, replay)


def _sent_at(text: str, now: datetime) -> datetime:
    if not _UNIX_SECONDS.match(text):
        raise RequestRejected("invalid_timestamp", "X-Timestamp must be the request time in Unix seconds")
    if int(text) >= MILLISECONDS_FROM:
        raise RequestRejected("invalid_timestamp", "X-Timestamp looks like milliseconds: send Unix seconds")
    drift = int(text) - int(now.timestamp())
    if drift < -WINDOW_SECONDS:
        raise RequestRejected("stale_timestamp",
                              f"X-Timestamp is {-drift} s in the past; requests must be within ±{WINDOW_SECONDS} s")
    if drift > WINDOW_SECONDS:
        raise RequestRejected("future_timestamp",
                              f"X-Timestamp is {drift} s in the future; requests must be within ±{WINDOW_SECONDS} s")
    return datetime.fromtimestamp(int(text), UTC)


def _key(uow: UnitOfWork, key_id: str, now: datetime) -> tuple[int, str] | None:
    """(store id, encrypted secret) of a live VeltPay key; a rotated key lives until its grace period ends."""
    row = uow.session.execute(
        select(ApiKey.store_id, ApiKey.encrypted)
        .where(ApiKey.public_id == key_id, ApiKey.kind == "veltpay",
               key_is_live(now))
    ).first()
    return None if row is None else (row[0], row[1])


def _spend(uow: UnitOfWork, key_id: str, signature: str, keep_until: datetime, now: datetime) -> bool:
    """Record the signature; True when it was recorded already (by any process: the primary key says so)."""
    global _next_prune
    session = uow.session
    if time.monotonic() >= _next_prune:
        _next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        session.execute(delete(VeltpaySignature).where(VeltpaySignature.expires_at < now))
    try:
        with session.begin_nested():
            session.add(VeltpaySignature(signature=signature, key_id=key_id, expires_at=keep_until))
    except IntegrityError:
        return True
    return False
