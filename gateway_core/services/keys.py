"""Issuing, checking and rotating store API keys. Raw keys leave this module exactly once."""

from __future__ import annotations

import base64
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import joinedload

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ApiKey, Store
from gateway_core.adapters.secrets import KeyVault, digests_match, key_digest
from gateway_core.domain.errors import InvalidApiKey, StoreNotFound
from gateway_core.domain.identifiers import API_KEY_LENGTH, new_api_key
from gateway_core.ports import Clock

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


@functools.cache
def _key_lookup() -> Any:
    """One round trip for the key, its store and the store's wallets; built once (this runs on every request)."""
    return (select(ApiKey.digest, ApiKey.expires_at, Store, ApiKey.rate_limit_per_minute)
            .join(Store, Store.id == ApiKey.store_id)
            .options(joinedload(Store.wallets))
            .where(ApiKey.digest == bindparam("digest"), ApiKey.kind == bindparam("kind"),
                   or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > bindparam("now"))))


def authenticate(uow: UnitOfWork, raw_key: object, clock: Clock, kind: str = "voltxt") -> Store:
    """The store this key belongs to, or InvalidApiKey (unknown, expired after rotation, or malformed)."""
    return valid_key(uow, digest_of(raw_key, kind), clock, kind).store


@dataclass(frozen=True)
class ValidKey:
    store: Store  # with its wallets loaded
    expires_at: datetime | None  # when a rotation's grace period ends, if the key has been rotated
    per_minute: int | None = None  # the key's own request budget; None: its contract's default


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
    return ValidKey(row[2], row[1], row[3])


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
        .where(ApiKey.store_id == store_id, ApiKey.kind == kind)
        .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > ends))
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
