"""solana-py against the loopback fake: the request budget, retries with backoff, and how failures are sorted."""

from __future__ import annotations

import threading

import pytest
from solders.keypair import Keypair

from gateway_core.adapters.chains.solana_rpc import (
    MIN_CONTEXT_SLOT_NOT_REACHED,
    RateLimiter,
    RpcError,
    RpcUnavailable,
    SolanaLoop,
    SolanaRpc,
)


@pytest.mark.parametrize("fault", ["timeout", "429", "500", "malformed"])
def test_a_failed_attempt_is_retried_after_a_backoff(fake_rpc, fault) -> None:
    pauses: list[float] = []
    rpc = SolanaRpc(fake_rpc.url, retries=2, backoff=0.25, timeout=0.3, sleep=pauses.append)
    fake_rpc.faults.extend([fault, fault])
    assert rpc.latest_blockhash()[1] > 0  # typed through solders, third attempt
    assert pauses == [0.25, 0.5] and rpc.calls == 3
    fake_rpc.faults.extend([fault] * 3)
    with pytest.raises(RpcUnavailable):
        rpc.call("getSlot")


def test_refusals_are_not_retried_and_keep_their_code(fake_rpc) -> None:
    rpc = SolanaRpc(fake_rpc.url, retries=3, sleep=lambda _: None)
    fake_rpc.lag("getSignaturesForAddress", slots=5)
    with pytest.raises(RpcError) as refused:
        rpc.call("getSignaturesForAddress", str(Keypair().pubkey()),
                 {"commitment": "confirmed", "minContextSlot": fake_rpc.ledger.slot})
    assert refused.value.code == MIN_CONTEXT_SLOT_NOT_REACHED and rpc.calls == 1


def test_the_request_budget_holds_across_threads(fake_rpc) -> None:
    now = [0.0]
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)
            now[0] += seconds

    limiter = RateLimiter(3, 10.0, sleep=sleep, monotonic=lambda: now[0])
    loop = SolanaLoop()
    rpcs = [SolanaRpc(fake_rpc.url, loop=loop, limiter=limiter) for _ in range(2)]
    threads = [threading.Thread(target=rpc.balance, args=(str(Keypair().pubkey()),)) for rpc in rpcs * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert fake_rpc.calls["getBalance"] == 4
    assert sum(waits) >= 10.0  # the fourth request waited for the first one's slot to free
    loop.close()
