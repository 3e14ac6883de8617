"""Per-invoice TRON deposit addresses: the next index of the store's xpub, allocated atomically."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session, object_session

from gateway_core.adapters.chains.tron_keys import BadExtendedKey, deposit_address, parse_xpub
from gateway_core.adapters.models import Quote, Store
from gateway_core.domain.errors import ValidationFailed


def accepts_tron(store: Store) -> bool:
    """A store with a TRON xpub takes USDT at per-invoice addresses (beside its Solana assets)."""
    return bool(store.tron_xpub)


def check_xpub(xpub: str) -> str:
    """The xpub, stripped, if it is a usable TRON account public key; ValidationFailed otherwise."""
    text = xpub.strip()
    try:
        parse_xpub(text)
    except BadExtendedKey as exc:
        raise ValidationFailed("Invalid TRON extended public key", errors={"tron_xpub": str(exc)}) from None
    return text


def allocate_index(session: Session, store_id: int) -> int:
    """Take the store's next derivation index; the row update serialises concurrent invoice creations."""
    taken = session.execute(
        update(Store).where(Store.id == store_id).values(tron_next_index=Store.tron_next_index + 1)
        .returning(Store.tron_next_index).execution_options(synchronize_session=False)
    ).scalar_one()
    return int(taken) - 1


def next_deposit_address(session: Session, store: Store) -> tuple[int, str]:
    """(index, address) of a fresh deposit address m/44'/195'/0'/0/index for this store."""
    if not store.tron_xpub:
        raise ValidationFailed("Store has no TRON extended public key", errors={"tron_xpub": "not set"})
    index = allocate_index(session, store.id)
    return index, deposit_address(store.tron_xpub, index)


def tron_deposit_quote(store: Store, position: int, units: int, rate: Decimal, rate_currency: str,
                       expires_at: datetime, chain: str) -> Quote:
    """A USDT quote paid at a fresh watch-only address; no reference: the address alone identifies it."""
    session = object_session(store)
    if session is None:
        raise RuntimeError("the store must belong to the invoice's session to allocate an address")
    _, address = next_deposit_address(session, store)
    return Quote(position=position, asset="USDT", chain=chain, address=address, reference=None,
                 amount_due=units, rate=rate, rate_currency=rate_currency, expires_at=expires_at)
