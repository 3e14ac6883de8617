"""A fake Solana pub/sub server: a real websocket on 127.0.0.1, fed by the fake cluster's ledger.

Methods and shapes as Solana's nodes document them:
- `accountSubscribe [pubkey, {commitment, encoding}]` -> `{"result": <subscription id>}`; each transaction
  that writes the account (a failed one writes only its fee payer) sends `{"method": "accountNotification",
  "params": {"result": {"context": {"slot"}, "value": <account, base64>}, "subscription": <id>}}` (built with
  solders' AccountNotification).
- `logsSubscribe [{"mentions": [pubkey]}, {commitment}]` -> a subscription id (one address only, as nodes
  refuse more); each transaction naming the key, failed ones included, sends `logsNotification` with
  `{"result": {"context": {"slot"}, "value": {"signature", "err", "logs"}}, "subscription": <id>}`.
- `accountUnsubscribe` / `logsUnsubscribe [id]` -> `{"result": true}` (false for an unknown id).
Transactions land confirmed in the fake ledger, so notifications go out at `confirmed` as they land.

Controls: `delay` holds every notification back (seconds); `drop()` cuts every open socket; `refuse` turns
new connections away (a node that is down); `confirmed_at` records when each signature landed
(`time.time()`), and `notified` counts the notifications sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from typing import Any

from solders.account import Account as SoldersAccount
from solders.rpc.responses import AccountNotification, AccountNotificationResult, RpcResponseContext
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.fakes.solana_ledger import TxRecord
from tests.fakes.solana_rpc import FakeSolanaRpc, _solders_account


class FakeSolanaPubSub:
    """Run with `with FakeSolanaPubSub(fake_rpc) as pubsub: pubsub.url`."""

    def __init__(self, rpc: FakeSolanaRpc) -> None:
        self.ledger = rpc.ledger
        self.delay = 0.0
        self.refuse = False
        self.confirmed_at: dict[str, float] = {}
        self.notified: Counter[str] = Counter()
        self.connections = 0  # accepted so far
        # subscription id -> (socket, kind 'account' | 'logs', the account key)
        self.subscriptions: dict[int, tuple[ServerConnection, str, str]] = {}
        self._ids = itertools.count(1)
        self._open: set[ServerConnection] = set()
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/"

    def __enter__(self) -> FakeSolanaPubSub:
        self._thread.start()
        assert self._started.wait(10), "pub/sub fake did not start"
        self.ledger.listeners.append(self._landed)
        return self

    def __exit__(self, *exc: object) -> None:
        self.ledger.listeners.remove(self._landed)
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(timeout=10)

    def subscribed(self, kind: str = "account") -> set[str]:
        """Keys with a live subscription of `kind`."""
        return {key for _, k, key in list(self.subscriptions.values()) if k == kind}

    def drop(self) -> None:
        """Cut every open socket without a closing handshake (a node restart, a proxy timeout)."""
        def cut() -> None:
            for ws in list(self._open):
                ws.transport.abort()
        self._loop.call_soon_threadsafe(cut)

    # -- server -------------------------------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            async with serve(self._serve, "127.0.0.1", 0) as server:
                self._server = server
                self._started.set()
                await server.wait_closed()

        self._loop.run_until_complete(main())

    async def _serve(self, ws: ServerConnection) -> None:
        if self.refuse:
            await ws.close(1013, "try again later")
            return
        self.connections += 1
        self._open.add(ws)
        try:
            async for message in ws:
                await ws.send(json.dumps(self._answer(ws, json.loads(message))))
        except ConnectionClosed:
            pass
        finally:
            self._open.discard(ws)
            for sid in [sid for sid, (owner, _, _) in self.subscriptions.items() if owner is ws]:
                self.subscriptions.pop(sid, None)

    def _answer(self, ws: ServerConnection, request: dict[str, Any]) -> dict[str, Any]:
        method, params = request.get("method"), request.get("params") or []
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        if method == "accountSubscribe":
            sid = next(self._ids)
            self.subscriptions[sid] = (ws, "account", str(params[0]))
            reply["result"] = sid
        elif method == "logsSubscribe":
            mentions = (params[0] or {}).get("mentions") if isinstance(params[0], dict) else None
            if not mentions or len(mentions) != 1:
                reply["error"] = {"code": -32602, "message": "Invalid Request: Only 1 address supported"}
                return reply
            sid = next(self._ids)
            self.subscriptions[sid] = (ws, "logs", str(mentions[0]))
            reply["result"] = sid
        elif method in ("accountUnsubscribe", "logsUnsubscribe"):
            reply["result"] = self.subscriptions.pop(int(params[0]), None) is not None
        else:
            reply["error"] = {"code": -32601, "message": "Method not found"}
        return reply

    # -- notifications (called on the ledger's thread, under its lock) -----------------------------------------

    def _landed(self, record: TxRecord) -> None:
        self.confirmed_at[record.signature] = time.time()
        # What the bank stores: every writable account of a transaction that succeeded; of a failed one, only
        # the fee payer (its fee), so a failed payment notifies no recipient's account subscription.
        writable = {key for key, _, w in (record.keys[:1] if record.err else record.keys) if w}
        mentioned = {key for key, _, _ in record.keys}
        context = RpcResponseContext(record.slot)
        outgoing: list[tuple[ServerConnection, str, str]] = []
        for sid, (ws, kind, key) in list(self.subscriptions.items()):
            if kind == "account" and key in writable:
                state = _solders_account(self.ledger.accounts.get(key)) or SoldersAccount(0, b"", SYSTEM_PROGRAM_ID)
                params = json.loads(AccountNotification(AccountNotificationResult(state, context), sid).to_json())
                outgoing.append((ws, kind, json.dumps(
                    {"jsonrpc": "2.0", "method": "accountNotification", "params": params})))
            elif kind == "logs" and key in mentioned:
                value = {"signature": record.signature, "err": {"InstructionError": [0, {"Custom": 1}]}
                         if record.err else None, "logs": []}
                outgoing.append((ws, kind, json.dumps({"jsonrpc": "2.0", "method": "logsNotification", "params": {
                    "result": {"context": {"slot": record.slot}, "value": value}, "subscription": sid}})))
        for ws, kind, text in outgoing:
            asyncio.run_coroutine_threadsafe(self._notify(ws, kind, text), self._loop)

    async def _notify(self, ws: ServerConnection, kind: str, text: str) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            await ws.send(text)
            self.notified[kind] += 1
        except ConnectionClosed:
            pass
