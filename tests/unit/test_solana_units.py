"""Solana pieces without a cluster: SLIP-0010 derivation, the rate limit, settings, explorer links, sweeps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway_core.adapters.chains.solana_keys import GatewayKeys, seed_bytes, slip10_ed25519
from gateway_core.adapters.chains.solana_rpc import RateLimiter
from gateway_core.adapters.chains.solana_setup import solana_chain_from_settings
from gateway_core.adapters.chains.solana_tx import plan_sweep
from gateway_core.config import Settings

H = 0x8000_0000


@pytest.mark.parametrize(("path", "chain_code", "key"), [
    ([], "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb",
     "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7"),
    ([0], "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69",
     "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3"),
    ([0, 1], "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14",
     "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2"),
    ([0, 1, 2, 2], "8f6d87f93d750e0efccda017d662a1b31a266e4a6f5993b15f5c1f07f74dd5cc",
     "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662"),
])
def test_slip10_ed25519_test_vector_1(path: list[int], chain_code: str, key: str) -> None:
    derived, code = slip10_ed25519(bytes.fromhex("000102030405060708090a0b0c0d0e0f"), path)
    assert (derived.hex(), code.hex()) == (key, chain_code)


def test_hardened_index_is_forced_and_keys_are_distinct() -> None:
    seed = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    assert slip10_ed25519(seed, [0]) == slip10_ed25519(seed, [0 | H])
    keys = GatewayKeys(seed)
    deposits = {str(keys.deposit(i).pubkey()) for i in range(1, 50)}
    assert len(deposits) == 49 and str(keys.fee_payer().pubkey()) not in deposits
    assert "seed" in repr(keys) and seed.hex() not in repr(keys)


def test_seed_accepts_hex_or_mnemonic() -> None:
    words = "abandon " * 11 + "about"
    # BIP-39 vector: this mnemonic with an empty passphrase.
    assert seed_bytes(words).hex().startswith("5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc1")
    assert seed_bytes("0x" + "ab" * 32) == bytes([0xAB]) * 32
    with pytest.raises(ValueError):
        seed_bytes("too short")


def test_rate_limiter_allows_100_per_10_seconds() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(100, 10.0, sleep=sleep, monotonic=lambda: clock[0])
    for _ in range(100):
        assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(10.0)  # the 101st waits for the first to leave the window
    assert slept == [pytest.approx(10.0)]


def test_endpoints_and_limits_from_the_environment(tmp_path) -> None:
    settings = Settings.from_env({
        "SOLANA_RPC_URL_DEVNET": "https://devnet.example/rpc", "SOLANA_RPC_URL_MAINNET": "https://main.example/",
        "SOLANA_RPC_RATE_LIMIT": "40", "SOLANA_RPC_RATE_PERIOD": "10", "GATEWAY_SEED": "5eedc0de" * 8,
        "USDC_MINT_DEVNET": "Mint1111111111111111111111111111111111111111",
    }, instance_path=str(tmp_path))
    chain = solana_chain_from_settings(settings)
    assert chain.rpcs["devnet"].url == "https://devnet.example/rpc"
    assert chain.rpcs["mainnet"].url == "https://main.example/"
    assert chain.rpcs["devnet"].limiter is not chain.rpcs["mainnet"].limiter  # one limit per endpoint
    assert chain.rpcs["devnet"].limiter is not None and chain.rpcs["devnet"].limiter.limit == 40
    assert chain.usdc_mints == {"devnet": "Mint1111111111111111111111111111111111111111",
                                "mainnet": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"}
    assert "5eedc0de" not in repr(settings)  # the seed never reaches a log line through the settings


def test_generated_seed_persists_in_the_instance_folder(tmp_path) -> None:
    first = Settings.from_env({}, instance_path=str(tmp_path)).gateway_seed
    assert len(bytes.fromhex(first)) == 32
    assert Settings.from_env({}, instance_path=str(tmp_path)).gateway_seed == first
    assert (tmp_path / "gateway_seed").stat().st_mode & 0o077 == 0


def test_sweep_plan_fee_rounds_down() -> None:
    plan = plan_sweep(1_000_000_001, 99_999_999, True, Decimal("1.5"))
    assert plan.sol_fee == 15_000_000 and plan.sol_to_merchant == 985_000_001
    assert plan.token_fee == 1_499_999 and plan.token_to_merchant == 98_500_000
    assert plan_sweep(0, 0, False, Decimal("1")).empty
