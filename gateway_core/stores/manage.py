"""Creating and listing stores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from gateway_core.adapters.chains.addresses import BadAddress, solana_pubkey, tron_address, usdc_token_account
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.i18n import DEFAULT as DEFAULT_LANGUAGE
from gateway_core.adapters.i18n import checked_language
from gateway_core.adapters.models import Store, StoreWallet
from gateway_core.adapters.secrets import KeyVault
from gateway_core.config import Settings
from gateway_core.domain.errors import StoreNotFound, ValidationFailed, said
from gateway_core.domain.identifiers import new_solana_pubkey, new_tron_address, new_webhook_secret
from gateway_core.domain.money import ASSET_ORDER, asset
from gateway_core.keys.api_keys import issue_key
from gateway_core.payments.tron_deposits import check_xpub

NETWORKS = ("sandbox", "devnet", "mainnet")
NETWORK_ALIASES = {"testnet": "devnet"}
SETTLEMENT_MODES = ("direct", "deposit")
# Refusals both store creation and editing raise.
INVALID_STORE_NAME = said("invalid_store_name", "Invalid store name")
STORE_NAME_LENGTH = said("d_length", "1 to 200 characters", low=1, high=200)
INVALID_SETTLEMENT_MODE = said("invalid_settlement_mode", "Invalid settlement mode")
SETTLEMENT_MODE_CHOICES = said("d_settlement_mode", "direct or deposit")


def usdc_mints_for(settings: type[Settings] | Settings = Settings) -> dict[str, str]:
    """The USDC mint a store's token account is derived for, per network (the sandbox mirrors devnet, as the pay
    page does); the defaults unless configured settings are given."""
    return {"sandbox": settings.usdc_mint_devnet, "devnet": settings.usdc_mint_devnet,
            "mainnet": settings.usdc_mint_mainnet}


@dataclass(frozen=True)
class NewStore:
    id: int
    name: str
    network: str
    api_key: str
    webhook_secret: str
    wallets: dict[str, str]
    # USDC: the associated token account payments arrive at, derived from the wallet.
    token_accounts: dict[str, str] = field(default_factory=dict)
    language: str = DEFAULT_LANGUAGE  # of the store's merchant emails


@dataclass(frozen=True)
class CheckedWallet:
    asset: str
    address: str
    token_account: str | None = None


def check_wallet(code: str, address: str, network: str, *, allow_off_curve: bool = False,
                 usdc_mints: Mapping[str, str] | None = None) -> CheckedWallet:
    """A wallet a payment can reach, or ValidationFailed naming the field (wallet.ASSET) and the reason."""
    code, address = code.strip().upper(), address.strip()
    fieldname = f"wallet.{code}"
    if code not in ASSET_ORDER:
        raise ValidationFailed(said("unknown_asset", "Unknown asset"),
                               errors={"wallet": said("d_unknown_asset", f"unknown asset {code}", asset=code)})
    try:
        if asset(code).chain == "tron":
            return CheckedWallet(code, tron_address(address))
        if code == "USDC":
            mint = (usdc_mints or usdc_mints_for())[network]
            return CheckedWallet(code, address, usdc_token_account(address, mint, allow_off_curve=allow_off_curve))
        solana_pubkey(address, allow_off_curve=allow_off_curve)
        return CheckedWallet(code, address)
    except BadAddress as exc:
        raise ValidationFailed(said("store_invalid_wallet", f"Invalid {code} wallet", asset=code),
                               errors={fieldname: said("d_bad_address", f"{address!r}: {exc}", address=address,
                                                       problem=exc.reason)}) from None


def _check_name_free(uow: UnitOfWork, name: str, store_id: int | None = None) -> None:
    taken = uow.session.execute(select(Store.id).where(Store.name == name, Store.id != (store_id or 0))).first()
    if taken is not None:
        raise ValidationFailed(said("store_name_taken", "Store name taken"), errors={"name": said(
            "d_store_name_taken", f"store {taken[0]} is named {name!r} already; names are unique", name=name)})


def canonical_network(name: str) -> str:
    network = NETWORK_ALIASES.get(name.strip().lower(), name.strip().lower())
    if network not in NETWORKS:
        raise ValidationFailed(said("unknown_network", "Unknown network"), errors={"network": said(
            "d_one_of", f"must be one of {', '.join(NETWORKS)}", choices=", ".join(NETWORKS))})
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
    allow_off_curve: bool = False,
    usdc_mints: Mapping[str, str] | None = None,
    email_notifications: bool = False,
    language: str = DEFAULT_LANGUAGE,
) -> NewStore:
    """Create a store and its first VOLTXT key. Sandbox stores get sandbox wallets for every asset."""
    network = canonical_network(network)
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed(INVALID_STORE_NAME, errors={"name": STORE_NAME_LENGTH})
    if settlement_mode not in SETTLEMENT_MODES:
        raise ValidationFailed(INVALID_SETTLEMENT_MODE, errors={"settlement_mode": SETTLEMENT_MODE_CHOICES})
    wallets = {k.upper(): v for k, v in (wallets or {}).items()}
    unknown = set(wallets) - set(ASSET_ORDER)
    if unknown:
        raise ValidationFailed(said("unknown_asset", "Unknown asset"), errors={"wallet": said(
            "d_unknown_asset", f"unknown asset {sorted(unknown)[0]}", asset=sorted(unknown)[0])})
    checked = [check_wallet(code, address, network, allow_off_curve=allow_off_curve, usdc_mints=usdc_mints)
               for code, address in wallets.items()]
    wallets = {w.asset: w.address for w in checked}
    _check_name_free(uow, name)
    if network == "sandbox":  # our own ledger's addresses, made here: nothing to check
        for code in ASSET_ORDER:
            wallets.setdefault(code, new_tron_address() if code == "USDT" else new_solana_pubkey())
    language = checked_language(language)
    store = Store(
        name=name,
        language=language,
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
    return NewStore(store.id, store.name, store.network, key.api_key, store.webhook_secret, dict(wallets),
                    {w.asset: w.token_account for w in checked if w.token_account}, store.language)


def set_wallet(uow: UnitOfWork, ref: str | int, code: str, address: str, *, allow_off_curve: bool = False,
               usdc_mints: Mapping[str, str] | None = None) -> tuple[Store, CheckedWallet]:
    """Change (or add) a store's wallet for one asset: new invoices pay it; open ones keep the address they quote."""
    store = find_store(uow, ref)
    wallet = check_wallet(code, address, store.network, allow_off_curve=allow_off_curve, usdc_mints=usdc_mints)
    current = next((w for w in store.wallets if w.asset == wallet.asset), None)
    if current is None:
        store.wallets.append(StoreWallet(asset=wallet.asset, address=wallet.address))
    else:
        current.address = wallet.address
    uow.session.flush()
    return store, wallet


def list_stores(uow: UnitOfWork) -> list[Store]:
    return list(uow.session.execute(select(Store).order_by(Store.id)).scalars())


def find_store(uow: UnitOfWork, ref: str | int) -> Store:
    """A store by id, or by exact name; a name two stores share (from before names were unique) is an error."""
    text = str(ref)
    store = uow.session.get(Store, int(text)) if text.isdigit() else None
    if store is not None:
        return store
    named = list(uow.session.execute(select(Store).where(Store.name == text).order_by(Store.id).limit(5)).scalars())
    if not named:
        raise StoreNotFound(f"store {text!r} not found")
    if len(named) > 1:
        ids = ", ".join(str(s.id) for s in named)
        raise ValidationFailed("Ambiguous store name",
                               errors={"store": f"{len(named)} stores are named {text!r} (ids {ids}): give the id"})
    return named[0]
