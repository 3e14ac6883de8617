"""Creating and listing stores."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Store, StoreWallet
from gateway_core.adapters.secrets import KeyVault
from gateway_core.domain.errors import StoreNotFound, ValidationFailed
from gateway_core.domain.identifiers import new_solana_pubkey, new_tron_address, new_webhook_secret
from gateway_core.domain.money import ASSET_ORDER
from gateway_core.services.keys import issue_key
from gateway_core.services.tron_deposits import check_xpub

NETWORKS = ("sandbox", "devnet", "mainnet")
NETWORK_ALIASES = {"testnet": "devnet"}
SETTLEMENT_MODES = ("direct", "deposit")


@dataclass(frozen=True)
class NewStore:
    id: int
    name: str
    network: str
    api_key: str
    webhook_secret: str
    wallets: dict[str, str]


def canonical_network(name: str) -> str:
    network = NETWORK_ALIASES.get(name.strip().lower(), name.strip().lower())
    if network not in NETWORKS:
        raise ValidationFailed("Unknown network", errors={"network": f"must be one of {', '.join(NETWORKS)}"})
    return network


def create_store(
    uow: UnitOfWork,
    vault: KeyVault,
    *,
    name: str,
    network: str,
    email: str | None = None,
    wallets: dict[str, str] | None = None,
    settlement_mode: str = "direct",
    platform_fee_percent: Decimal = Decimal("0"),
    underpayment_tolerance_percent: Decimal = Decimal("0"),
    default_expiry_hours: int = 24,
    tron_xpub: str | None = None,
    email_notifications: bool = False,
) -> NewStore:
    """Create a store and its first VOLTXT key. Sandbox stores get sandbox wallets for every asset."""
    network = canonical_network(network)
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("Invalid store name", errors={"name": "1 to 200 characters"})
    if settlement_mode not in SETTLEMENT_MODES:
        raise ValidationFailed("Invalid settlement mode", errors={"settlement_mode": "direct or deposit"})
    wallets = {k.upper(): v for k, v in (wallets or {}).items()}
    unknown = set(wallets) - set(ASSET_ORDER)
    if unknown:
        raise ValidationFailed("Unknown asset", errors={"wallet": f"unknown asset {sorted(unknown)[0]}"})
    if network == "sandbox":
        for code in ASSET_ORDER:
            wallets.setdefault(code, new_tron_address() if code == "USDT" else new_solana_pubkey())
    store = Store(
        name=name,
        network=network,
        notification_email=email,
        email_notifications=email_notifications and bool(email),
        settlement_mode=settlement_mode,
        platform_fee_percent=platform_fee_percent,
        underpayment_tolerance_percent=underpayment_tolerance_percent,
        default_expiry_hours=default_expiry_hours,
        webhook_secret=new_webhook_secret(),
        wallets=[StoreWallet(asset=code, address=address) for code, address in wallets.items()],
    )
    if tron_xpub:  # TRON (issue 6): watch-only USDT deposit addresses derived from this key
        store.tron_xpub = check_xpub(tron_xpub)
    uow.session.add(store)
    uow.session.flush()
    key = issue_key(uow, vault, store.id)
    return NewStore(store.id, store.name, store.network, key.api_key, store.webhook_secret, dict(wallets))


def list_stores(uow: UnitOfWork) -> list[Store]:
    return list(uow.session.execute(select(Store).order_by(Store.id)).scalars())


def find_store(uow: UnitOfWork, ref: str | int) -> Store:
    """A store by id, or by exact name."""
    text = str(ref)
    store = uow.session.get(Store, int(text)) if text.isdigit() else None
    if store is None:
        store = uow.session.execute(select(Store).where(Store.name == text)).scalars().first()
    if store is None:
        raise StoreNotFound(f"store {text!r} not found")
    return store
