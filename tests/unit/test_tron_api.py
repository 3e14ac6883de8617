"""TronGrid access: our API key on every request (never tronpy's shared keys), a timeout, a rate limit."""

from __future__ import annotations

import pytest
import requests
import responses
from tronpy.providers.http import DEFAULT_API_KEYS

from gateway_core.adapters.chains.tron import explorer_address_url, explorer_tx_url, tron_network
from gateway_core.adapters.chains.tron_api import RateLimiter, TronApi, TronApiError

NILE = "https://nile.trongrid.io"


@responses.activate
def test_every_request_carries_our_key_and_never_a_shared_one() -> None:
    responses.add(responses.POST, f"{NILE}/wallet/getnodeinfo", json={"block": "Num:5,ID:00"})
    responses.add(responses.POST, f"{NILE}/walletsolidity/gettransactioninfobyblocknum", json=[])
    api = TronApi(NILE, "our-key", timeout=3, per_second=0)
    for _ in range(3):
        api.post("wallet/getnodeinfo")
        api.post("walletsolidity/gettransactioninfobyblocknum", {"num": 5})
    sent = [call.request.headers.get("TRON-PRO-API-KEY") for call in responses.calls]
    assert sent == ["our-key"] * 6
    assert not any(call.request.headers.get("TRON-PRO-API-KEY") in DEFAULT_API_KEYS for call in responses.calls)
    assert api.calls == 6


def test_trongrid_without_a_key_is_refused_rather_than_using_shared_keys() -> None:
    with pytest.raises(TronApiError, match="TRONGRID_API_KEY"):
        TronApi(NILE, "")


@responses.activate
def test_timeouts_and_errors_become_tron_api_errors_without_the_key() -> None:
    responses.add(responses.POST, f"{NILE}/wallet/getnodeinfo", body=requests.exceptions.ReadTimeout("slow"))
    responses.add(responses.POST, f"{NILE}/walletsolidity/getnowblock", status=403,
                  json={"Error": "Exceed the user daily usage (100000), the maximum query frequency is 1s"})
    responses.add(responses.POST, f"{NILE}/wallet/getnowblock", json={"Error": "class java.lang.Exception"})
    api = TronApi(NILE, "secret-key-123", timeout=0.5, per_second=0)
    assert api._provider.timeout == 0.5
    for method in ("wallet/getnodeinfo", "walletsolidity/getnowblock", "wallet/getnowblock"):
        with pytest.raises(TronApiError) as caught:
            api.post(method)
        assert "secret-key-123" not in str(caught.value)
    # tronpy's own 403 handler would swap in its shared keys and retry: it must not have run.
    assert len(responses.calls) == 3


def test_rate_limiter_spaces_calls() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    assert now[0] == pytest.approx(1.0)


def test_explorer_links_point_at_the_right_tronscan() -> None:
    assert tron_network("devnet") == tron_network("testnet") == "nile"
    assert explorer_tx_url("devnet", "ab" * 32) == f"https://nile.tronscan.org/#/transaction/{'ab' * 32}"
    assert explorer_tx_url("mainnet", "cd" * 32) == f"https://tronscan.org/#/transaction/{'cd' * 32}"
    assert explorer_address_url("mainnet", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t") == (
        "https://tronscan.org/#/address/TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
