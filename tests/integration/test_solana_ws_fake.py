"""The fake pub/sub server speaks Solana's documented websocket methods: what solana-py's client sends is
answered, and every notification parses with solders' typed notifications.

The adapter subscribes with `accountSubscribe` (adapters/chains/solana_push.py says why); `logsSubscribe` with
`mentions` is served too, in its documented shape, so that the fake does not hide the other choice.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from solana.rpc.commitment import Confirmed
from solana.rpc.websocket_api import SolanaWsClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.rpc.config import RpcTransactionLogsFilterMentions
from solders.rpc.responses import AccountNotification, LogsNotification

from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.fakes.solana_ws import FakeSolanaPubSub
from tests.solana_support import Buyer

WAIT = 10.0


def _run(pubsub: FakeSolanaPubSub, script: Any) -> Any:
    async def main() -> Any:
        async with SolanaWsClient(pubsub.url, request_timeout=WAIT) as ws:
            return await asyncio.wait_for(script(ws), WAIT)

    # In a thread of its own: the shared Playwright browser of a test process keeps an event loop running in the
    # main thread, where asyncio.run refuses to start another.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def test_logs_subscribe_with_mentions_notifies_each_transaction_naming_the_key(fake_rpc: FakeSolanaRpc,
                                                                               buyer: Buyer) -> None:
    wallet = str(Keypair().pubkey())
    with FakeSolanaPubSub(fake_rpc) as pubsub:
        async def script(ws: SolanaWsClient) -> tuple[Any, ...]:
            logs = await ws.logs_subscribe(filter_=RpcTransactionLogsFilterMentions(Pubkey.from_string(wallet)),
                                           commitment=Confirmed)
            account = await ws.account_subscribe(pubkey=Pubkey.from_string(wallet), commitment=Confirmed,
                                                 encoding="base64")
            paid = await asyncio.to_thread(buyer.pay_sol, wallet, 2_000_000)
            received = [await ws.recv(), await ws.recv()]
            # A transaction that lands failed moves no money: a logs notification (with its error), no
            # account notification.
            failed = await asyncio.to_thread(buyer.pay_sol, wallet, 10**18, None, skip_preflight=True)
            received.append(await ws.recv())
            await ws.unsubscribe(logs)
            await ws.unsubscribe(account)
            return paid, failed, received, logs.subscription_id, account.subscription_id

        paid, failed, received, logs_id, account_id = _run(pubsub, script)
        assert pubsub.subscriptions == {}  # both unsubscribed (answered true)
    by_kind = {type(n).__name__: n for n in received[:2]}
    assert set(by_kind) == {"LogsNotification", "AccountNotification"}
    logs = by_kind["LogsNotification"]
    assert isinstance(logs, LogsNotification) and logs.subscription == logs_id
    assert str(logs.result.value.signature) == paid and logs.result.value.err is None
    assert logs.result.context.slot > 0
    account = by_kind["AccountNotification"]
    assert isinstance(account, AccountNotification) and account.subscription == account_id
    assert account.result.value.lamports == 2_000_000
    last = received[2]
    assert isinstance(last, LogsNotification) and str(last.result.value.signature) == failed
    assert last.result.value.err is not None
    assert pubsub.notified == {"logs": 2, "account": 1}


def test_logs_subscribe_takes_one_address_as_nodes_do(fake_rpc: FakeSolanaRpc) -> None:
    keys = [Keypair().pubkey() for _ in range(2)]
    with FakeSolanaPubSub(fake_rpc) as pubsub:
        async def script(ws: SolanaWsClient) -> str:
            await ws.logs_subscribe(filter_=RpcTransactionLogsFilterMentions(keys[0]), commitment=Confirmed)
            # solders' filter holds one key; a raw request with two is refused.
            reply = await _raw(pubsub, {"jsonrpc": "2.0", "id": 9, "method": "logsSubscribe",
                                        "params": [{"mentions": [str(k) for k in keys]}, {}]})
            return str(reply["error"]["message"])

        message = _run(pubsub, script)
    assert "Only 1 address supported" in message


async def _raw(pubsub: FakeSolanaPubSub, request: dict[str, Any]) -> dict[str, Any]:
    import json

    from websockets.asyncio.client import connect

    async with connect(pubsub.url) as ws:
        await ws.send(json.dumps(request))
        return dict(json.loads(await ws.recv()))
