"""Issuing, checking and rotating store API keys. Raw keys leave this module exactly once."""

from __future__ import annotations

import base64
import functools
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, update
from sqlalchemy.orm import joinedload

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ApiKey, Store
from gateway_core.adapters.secrets import KeyVault, digests_match, key_digest
from gateway_core.domain.errors import GatewayError, InvalidApiKey, StoreNotFound
from gateway_core.domain.identifiers import API_KEY_LENGTH, new_api_key
from gateway_core.keys.usage import KEY_USAGE
from gateway_core.ports import Clock
from gateway_core.views import StoreSnapshot

# The contracts whose keys a store can hold (`voltbridge key create --kind`), each in its own documented format.
KEY_KINDS = ("voltxt", "virtexgate", "veltpay", "venta")


@dataclass(frozen=True)
class IssuedKey:
    store_id: int
    kind: str
    api_key: str  # the secret: the API key itself, or VeltPay's signing secret
    key_id: str | None = None  # VeltPay's public key id (sent as X-Api-Key; the secret never travels)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_raw_key(kind: str) -> str:
    if kind == "voltxt":
        return new_api_key()  # 32 characters, the VOLTXT plugins check the length
    if kind == "virtexgate":
        return "vgk_" + _b64url(secrets.token_bytes(32))  # the format VirtexGate documents
    if kind == "veltpay":
        return secrets.token_hex(32)
    if kind == "venta":
        return "vc_" + _b64url(secrets.token_bytes(32))
    raise ValueError(f"unknown key kind {kind!r}")


def plausible_key(kind: str, raw: object) -> bool:
    """Cheap shape check before hashing anything (and so malformed keys never reach the database)."""
    if not isinstance(raw, str):
        return False
    if kind == "voltxt":
        return len(raw) == API_KEY_LENGTH
    if kind == "virtexgate":
        return raw.startswith("vgk_") and len(raw) == 47
    if kind == "venta":
        return raw.startswith("vc_") and len(raw) == 46
    return 16 <= len(raw) <= 128


def issue_key(uow: UnitOfWork, vault: KeyVault, store_id: int, kind: str = "voltxt",
              rate_limit_per_minute: int | None = None) -> IssuedKey:
    """Create a key for the store (inside the caller's transaction) and return it in the clear, once."""
    raw = new_raw_key(kind)
    key_id = "vk_" + secrets.token_hex(12) if kind == "veltpay" else None
    uow.session.add(ApiKey(store_id=store_id, kind=kind, digest=key_digest(raw), encrypted=vault.encrypt(raw),
                           hint=(key_id or raw)[:4] if kind != "virtexgate" else raw[4:8], public_id=key_id,
                           rate_limit_per_minute=rate_limit_per_minute))
    return IssuedKey(store_id, kind, raw, key_id)


def key_is_live(now: Any) -> ColumnElement[bool]:
    """The one rule for a usable key: never rotated away, or still inside its rotation's grace period."""
    return or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)


@functools.cache
def _key_lookup() -> Any:
    """One round trip for the key, its store and the store's wallets; built once (this runs on every request)."""
    return (select(ApiKey.digest, ApiKey.expires_at, ApiKey.rate_limit_per_minute, Store)
            .join(Store, Store.id == ApiKey.store_id)
            .options(joinedload(Store.wallets))
            .where(ApiKey.digest == bindparam("digest"), ApiKey.kind == bindparam("kind"),
                   key_is_live(bindparam("now"))))


def authenticate(uow: UnitOfWork, raw_key: object, clock: Clock, kind: str = "voltxt") -> Store:
    """The store this key belongs to, or InvalidApiKey (unknown, expired after rotation, or malformed)."""
    return valid_key(uow, digest_of(raw_key, kind), clock, kind).store


@dataclass(frozen=True)
class ValidKey:
    store: Store  # with its wallets loaded
    expires_at: datetime | None  # when a rotation's grace period ends, if the key has been rotated
    per_minute: int | None  # the key's own request budget; None: the contract's default


def digest_of(raw_key: object, kind: str) -> str:
    """The key's lookup digest; InvalidApiKey for anything that cannot be a key of this kind."""
    if not isinstance(raw_key, str) or not plausible_key(kind, raw_key):
        raise InvalidApiKey("The provided API key is invalid")
    return key_digest(raw_key)


def valid_key(uow: UnitOfWork, digest: str, clock: Clock, kind: str = "voltxt") -> ValidKey:
    row = uow.session.execute(_key_lookup(), {"digest": digest, "kind": kind, "now": clock.now()}).unique().first()
    # The index lookup already matched; the constant-time compare keeps the check honest if lookup changes.
    if row is None or not digests_match(row[0], digest):
        raise InvalidApiKey("The provided API key is invalid")
    KEY_USAGE.seen(digest)  # every key check reads the key here (or hits KeyCache, which marks it too)
    return ValidKey(row[3], row[1], row[2])


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's store (a frozen snapshot), the key's digest and kind, and its expiry."""

    store: StoreSnapshot
    digest: str
    kind: str
    expires_at: datetime | None = None
    per_minute: int | None = None

    @property
    def bucket(self) -> str:
        return bucket_name(self.kind, self.digest)


def bucket_name(kind: str, digest: str) -> str:
    """The counter's name for a key: its kind and a prefix of its lookup digest (names it without revealing it)."""
    return f"{kind}:{digest[:24]}"


def caller_of(key: ValidKey, digest: str, kind: str) -> Caller:
    return Caller(StoreSnapshot.of(key.store), digest, kind, key.expires_at, key.per_minute)


class KeyCache:
    """Callers by key digest and kind, for `seconds`; least recently used ones go first beyond `max_entries`.

    Creation checks the key again in its own transaction, so a key revoked while cached creates nothing; store
    settings (wallets, expiry) reach a web process within the cache's lifetime.
    """

    def __init__(self, seconds: float, max_entries: int = 4096,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._max = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[tuple[str, str], tuple[float, Caller]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, kind: str) -> Caller | None:
        with self._lock:
            entry = self._entries.get((digest, kind))
            if entry is None:
                return None
            if self._monotonic() - entry[0] >= self.seconds:
                del self._entries[(digest, kind)]
                return None
            self._entries.move_to_end((digest, kind))
            return entry[1]

    def put(self, caller: Caller) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._entries[(caller.digest, caller.kind)] = (self._monotonic(), caller)
            self._entries.move_to_end((caller.digest, caller.kind))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, digest: str, kind: str) -> None:
        with self._lock:
            self._entries.pop((digest, kind), None)

    def caller(self, uow: Callable[..., UnitOfWork], raw_key: object, clock: Clock, kind: str = "voltxt") -> Caller:
        """The key's caller, from the cache when fresh; InvalidApiKey for an unknown, malformed or expired key."""
        digest = digest_of(raw_key, kind)
        found = self.get(digest, kind)
        if found is not None and found.expires_at is not None and found.expires_at <= clock.now():
            self.forget(digest, kind)
            raise InvalidApiKey("The provided API key is invalid")
        if found is None:
            with uow(read_only=True) as read:
                found = caller_of(valid_key(read, digest, clock, kind), digest, kind)
            self.put(found)
        else:
            KEY_USAGE.seen(digest)
        return found


def rotate_key(
    uow: UnitOfWork, vault: KeyVault, store_id: int, clock: Clock, grace: timedelta, kind: str = "voltxt"
) -> IssuedKey:
    """Issue a new key; keys issued before it keep working until `grace` has passed."""
    if uow.session.get(Store, store_id) is None:
        raise StoreNotFound(f"store {store_id} not found")
    ends = clock.now() + grace
    # The new key keeps the limit the merchant set on the newest key it replaces.
    limit = uow.session.execute(
        select(ApiKey.rate_limit_per_minute).where(ApiKey.store_id == store_id, ApiKey.kind == kind)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc()).limit(1)).scalar_one_or_none()
    uow.session.execute(
        update(ApiKey)
        .where(ApiKey.store_id == store_id, ApiKey.kind == kind, key_is_live(ends))
        .values(expires_at=ends)
    )
    return issue_key(uow, vault, store_id, kind, rate_limit_per_minute=limit)


def signing_key(uow: UnitOfWork, vault: KeyVault, store_id: int, kind: str = "voltxt") -> str | None:
    """The store's newest key in the clear, for signing store webhooks (VOLTXT signs with the API key)."""
    row = uow.session.execute(
        select(ApiKey)
        .where(ApiKey.store_id == store_id, ApiKey.kind == kind)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if row is None else vault.decrypt(row.encrypted)


@dataclass(frozen=True)
class KeyInfo:
    """What the dashboard lists of a key: never the secret."""

    id: int
    kind: str
    prefix: str  # the first characters, enough to tell keys apart
    public_id: str | None
    created_at: datetime
    expires_at: datetime | None
    live: bool
    last_used_at: datetime | None = None  # to about a minute (gateway_core.keys.usage)


def list_keys(uow: UnitOfWork, store_id: int, clock: Clock) -> list[KeyInfo]:
    """The store's keys of every contract, newest first, with whether each still works."""
    now = clock.now()
    rows = uow.session.scalars(select(ApiKey).where(ApiKey.store_id == store_id)
                               .order_by(ApiKey.created_at.desc(), ApiKey.id.desc()))
    return [KeyInfo(k.id, k.kind, k.hint, k.public_id, k.created_at, k.expires_at,
                    k.expires_at is None or k.expires_at > now, k.last_used_at) for k in rows]


class KeyNotFound(GatewayError):
    code = "KEY_NOT_FOUND"


def revoke_key(uow: UnitOfWork, store_id: int, key_id: int, clock: Clock) -> None:
    """End a key now (a rotation's grace period cut short); KeyNotFound for a key not live in this store."""
    result = uow.session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.store_id == store_id)
        .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > clock.now()))
        .values(expires_at=clock.now()))
    if not getattr(result, "rowcount", 0):
        raise KeyNotFound("No such live key in this store")
