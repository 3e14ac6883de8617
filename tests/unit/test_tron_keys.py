"""Watch-only TRON deposit addresses match an independent BIP32/BIP44 implementation (bip-utils)."""

from __future__ import annotations

import pytest
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins

from gateway_core.adapters.chains.tron_keys import BadExtendedKey, deposit_address, parse_xpub, serialise

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@pytest.fixture(scope="module")
def account():
    seed = Bip39SeedGenerator(MNEMONIC).Generate()
    return Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(0)


def test_addresses_match_bip_utils_along_m_44_195_0_0_i(account) -> None:
    xpub = account.PublicKey().ToExtended()
    chain = account.Change(Bip44Changes.CHAIN_EXT)
    for index in (0, 1, 2, 19, 20, 1000, 2**31 - 1):
        assert deposit_address(xpub, index) == chain.AddressIndex(index).PublicKey().ToAddress()
    # Pinned, so a change in either implementation shows: m/44'/195'/0'/0/0 of the BIP39 test mnemonic.
    assert deposit_address(xpub, 0) == "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"


def test_chain_level_key_derives_the_same_addresses(account) -> None:
    chain = account.Change(Bip44Changes.CHAIN_EXT)
    chain_xpub = chain.PublicKey().ToExtended()
    assert parse_xpub(chain_xpub).depth == 4
    assert deposit_address(chain_xpub, 7) == chain.AddressIndex(7).PublicKey().ToAddress()


def test_private_keys_and_garbage_are_refused(account) -> None:
    with pytest.raises(BadExtendedKey, match="private key"):
        parse_xpub(account.PrivateKey().ToExtended())
    xpub = account.PublicKey().ToExtended()
    with pytest.raises(BadExtendedKey, match="checksum"):
        parse_xpub(xpub[:-1] + ("1" if xpub[-1] != "1" else "2"))
    with pytest.raises(BadExtendedKey):
        parse_xpub("TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH")
    with pytest.raises(BadExtendedKey, match="non-hardened"):
        parse_xpub(xpub).child(2**31)
    # Depth 2 (m/44'/195') is not an account key.
    coin = Bip44.FromSeed(Bip39SeedGenerator(MNEMONIC).Generate(), Bip44Coins.TRON).Purpose().Coin()
    with pytest.raises(BadExtendedKey, match="depth 3"):
        parse_xpub(coin.PublicKey().ToExtended())


def test_serialise_round_trips(account) -> None:
    key = parse_xpub(account.PublicKey().ToExtended())
    again = parse_xpub(serialise(key))
    assert (again.depth, again.chain_code, again.key) == (key.depth, key.chain_code, key.key)
