"""Addresses are checked before money moves: at store creation and when a wallet changes, whatever the entry point."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from sqlalchemy import select

from gateway_core.adapters.models import Invoice
from gateway_core.domain.errors import ValidationFailed
from gateway_core.domain.identifiers import b58check_encode, b58decode, b58encode
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.stores.manage import (
    check_wallet,
    create_store,
    find_store,
    list_stores,
    set_wallet,
    usdc_mints_for,
)

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ATA_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SQUADS_V4 = Pubkey.from_string("SQDS4ep65T869zMMBKyuUq6aD6EgTu8psMjkvj52pCf")


@pytest.fixture(scope="module")
def tron_account():
    return Bip44.FromSeed(Bip39SeedGenerator(MNEMONIC).Generate(), Bip44Coins.TRON).Purpose().Coin().Account(0)


def off_curve_vault() -> str:
    """A program-derived address, as a Squads multisig vault is: no private key, off the ed25519 curve."""
    vault, _ = Pubkey.find_program_address([b"multisig", bytes(Keypair().pubkey()), b"vault", b"\0"], SQUADS_V4)
    assert not vault.is_on_curve()
    return str(vault)


def refused(**kwargs) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        check_wallet(**kwargs)
    return caught.value.errors


def test_a_real_solana_key_is_accepted_and_usdc_derives_its_token_account() -> None:
    owner = Keypair().pubkey()
    assert check_wallet("SOL", str(owner), "mainnet").address == str(owner)
    usdc = check_wallet("usdc", f" {owner} ", "mainnet")
    mint = Pubkey.from_string(usdc_mints_for()["mainnet"])
    expected, _ = Pubkey.find_program_address([bytes(owner), bytes(TOKEN_PROGRAM), bytes(mint)], ATA_PROGRAM)
    assert (usdc.asset, usdc.address, usdc.token_account) == ("USDC", str(owner), str(expected))
    devnet = check_wallet("USDC", str(owner), "devnet")
    assert devnet.token_account != usdc.token_account  # another mint, another token account


@pytest.mark.parametrize(("address", "reason"), [
    ("notanaddress", "decodes to 9 bytes, not 32"),
    ("0x71C7656EC7ab88b098defB751B7401B5f6d8976F", "not base58"),  # an Ethereum address
    (b58encode(b"\x07" * 31), "decodes to 31 bytes"),
    # a whole keypair pasted as the wallet
    (b58encode(bytes(Keypair.from_seed(bytes(range(32))))), "decodes to 64 bytes"),
])
def test_what_is_not_a_solana_public_key_is_refused_naming_field_and_reason(address: str, reason: str) -> None:
    errors = refused(code="SOL", address=address, network="mainnet")
    assert list(errors) == ["wallet.SOL"] and reason in errors["wallet.SOL"]


def test_off_curve_keys_need_the_merchants_explicit_consent() -> None:
    vault = off_curve_vault()
    for code in ("SOL", "USDC"):
        reason = refused(code=code, address=vault, network="mainnet")[f"wallet.{code}"]
        assert "off the ed25519 curve" in reason and "USDC paid by QR would fail" in reason
        assert "--allow-off-curve" in reason
    allowed = check_wallet("USDC", vault, "mainnet", allow_off_curve=True)
    assert allowed.address == vault and allowed.token_account


def test_tron_addresses_need_the_mainnet_prefix_and_a_valid_checksum(tron_account) -> None:
    address = tron_account.Change(Bip44Changes.CHAIN_EXT).AddressIndex(0).PublicKey().ToAddress()
    assert check_wallet("USDT", address, "mainnet").address == address
    raw = b58decode(address)
    mistyped = b58encode(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert "checksum" in refused(code="USDT", address=mistyped, network="mainnet")["wallet.USDT"]
    bitcoin = b58check_encode(b"\x00" + raw[1:21])  # same key hash, Bitcoin's prefix
    assert "0x41" in refused(code="USDT", address=bitcoin, network="mainnet")["wallet.USDT"]
    solana = str(Keypair().pubkey())
    assert "not 25" in refused(code="USDT", address=solana, network="mainnet")["wallet.USDT"]


def test_store_creation_checks_every_wallet_and_the_xpub(services, tron_account) -> None:
    with services.uow() as uow, pytest.raises(ValidationFailed) as caught:
        create_store(uow, services.vault, name="Bad", network="devnet", wallets={"SOL": "notanaddress"})
    assert "wallet.SOL" in caught.value.errors
    private = tron_account.PrivateKey().ToExtended()
    with services.uow() as uow, pytest.raises(ValidationFailed) as caught:
        create_store(uow, services.vault, name="Bad", network="devnet", tron_xpub=private)
    assert "private key" in caught.value.errors["tron_xpub"]
    depth_two = Bip44.FromSeed(Bip39SeedGenerator(MNEMONIC).Generate(), Bip44Coins.TRON).Purpose().Coin()
    with services.uow() as uow, pytest.raises(ValidationFailed) as caught:
        create_store(uow, services.vault, name="Bad", network="devnet",
                     tron_xpub=depth_two.PublicKey().ToExtended())
    assert "depth 3" in caught.value.errors["tron_xpub"]
    with services.uow() as uow:
        assert list_stores(uow) == []
    wallet = str(Keypair().pubkey())
    with services.uow() as uow:
        made = create_store(uow, services.vault, name="Good", network="devnet", wallets={"USDC": wallet},
                            tron_xpub=tron_account.PublicKey().ToExtended())
    assert made.wallets == {"USDC": wallet} and set(made.token_accounts) == {"USDC"}


def test_store_names_are_unique_and_an_ambiguous_name_is_an_error(services) -> None:
    with services.uow() as uow:
        first = create_store(uow, services.vault, name="Corner Shop", network="sandbox")
    with services.uow() as uow, pytest.raises(ValidationFailed) as caught:
        create_store(uow, services.vault, name="Corner Shop", network="sandbox")
    assert "unique" in caught.value.errors["name"]
    with services.uow() as uow:  # two stores that share a name from before names were unique
        second = create_store(uow, services.vault, name="Corner Shop 2", network="sandbox")
        find_store(uow, second.id).name = "Corner Shop"
    with services.uow() as uow, pytest.raises(ValidationFailed) as caught:
        set_wallet(uow, "Corner Shop", "SOL", str(Keypair().pubkey()))
    assert f"ids {first.id}, {second.id}" in caught.value.errors["store"]
    with services.uow() as uow:  # by id it is unambiguous
        assert find_store(uow, first.id).id == first.id


def test_a_changed_wallet_is_used_by_new_invoices_while_open_ones_keep_theirs(services) -> None:
    old, new = str(Keypair().pubkey()), str(Keypair().pubkey())
    with services.uow() as uow:
        made = create_store(uow, services.vault, name="Mover", network="devnet", wallets={"SOL": old})
    request = InvoiceRequest(amount=Decimal("10"), external_id="before")
    with services.uow() as uow:
        before = create_invoice(uow, find_store(uow, made.id), request, services.invoicing).view
    with services.uow() as uow, pytest.raises(ValidationFailed) as caught:
        set_wallet(uow, "Mover", "SOL", off_curve_vault())
    assert "off the ed25519 curve" in caught.value.errors["wallet.SOL"]
    with services.uow() as uow:
        _, wallet = set_wallet(uow, "Mover", "SOL", new)
    assert wallet.address == new
    with services.uow() as uow:
        later = InvoiceRequest(amount=Decimal("10"), external_id="after")
        after = create_invoice(uow, find_store(uow, made.id), later, services.invoicing).view
    assert before.quotes[0].address == old and after.quotes[0].address == new
    with services.uow() as uow:
        kept = uow.session.execute(select(Invoice).where(Invoice.number == before.number)).scalar_one()
        assert kept.quotes[0].address == old
