"""Per-invoice TRON deposit addresses: the next index of the store's xpub, allocated atomically."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway_core.adapters.chains.tron_keys import BadExtendedKey, deposit_address, parse_xpub
from gateway_core.adapters.models import Store
from gateway_core.domain.errors import ValidationFailed, said
from gateway_core.views import StoreSnapshot


def accepts_tron(store: Store | StoreSnapshot) -> bool:
    """A store with a TRON xpub takes USDT at per-invoice addresses (beside its Solana assets)."""
    return bool(store.tron_xpub)


def check_xpub(xpub: str) -> str:
    """The xpub, stripped, if it is a usable TRON account public key; ValidationFailed otherwise."""
    text = xpub.strip()
    try:
        parse_xpub(text)
    except BadExtendedKey as exc:
        raise ValidationFailed(said("invalid_tron_xpub", "Invalid TRON extended public key"),
                               errors={"tron_xpub": said("d_bad_xpub", str(exc), problem=str(exc))}) from None
    return text


def allocate_index(session: Session, store_id: int) -> int:
    """Take the store's next derivation index; the row update serialises concurrent invoice creations."""
    taken = session.execute(
        update(Store).where(Store.id == store_id).values(tron_next_index=Store.tron_next_index + 1)
        .returning(Store.tron_next_index).execution_options(synchronize_session=False)
    ).scalar_one()
    return int(taken) - 1


def allocate_tron_addresses(session: Session, store: StoreSnapshot, quotes: list[dict[str, Any]]) -> None:
    """USDT at a store with an xpub goes to a fresh address m/44'/195'/0'/0/index; the address alone identifies
    the payment, so the quote keeps no reference."""
    if not accepts_tron(store):
        return
    for quote in quotes:
        if quote["asset"] == "USDT":
            assert store.tron_xpub is not None
            quote["address"] = deposit_address(store.tron_xpub, allocate_index(session, store.id))
            quote["reference"] = None
