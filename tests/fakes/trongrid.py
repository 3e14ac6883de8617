"""A TronGrid stand-in for `responses`: blocks whose bodies and TransactionInfo answers have the documented shape.

Each transaction is a pair: its body (as `wallet/getblockbynum` lists it) and its receipt (as
`gettransactioninfobyblocknum` lists it), log data and call data built with tronpy's ABI encoder (the
watcher decodes them with tronpy's decoder). The full node (`wallet/`) answers for blocks up to the head;
the solidity node (`walletsolidity/`) only up to the solidified height, as the real nodes do. With `lag`
set, every other request reaches a second node that many blocks behind (head and solidified), as behind a
load-balanced URL. Every request is logged with its headers.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from tronpy.abi import trx_abi
from tronpy.keys import to_base58check_address, to_hex_address

from gateway_core.adapters.chains.tron_blocks import TRANSFER_SELECTOR, TRANSFER_TOPIC

NILE = "https://nile.trongrid.io"
NILE_USDT = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
OTHER_TOKEN = "TF17BgPaZYbz8oxbjhriubPDsA7ArKoLX3"  # some other TRC20 contract on Nile
PAYER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
GENESIS_MS = 1_768_478_400_000  # 2026-01-15T12:00:00Z


def tx_id() -> str:
    return secrets.token_hex(32)


def _word(kind: str, value: Any) -> str:
    return bytes(trx_abi.encode([kind], [value])).hex()


def transfer_log(token: str, sender: str, to: str, amount: int) -> dict[str, Any]:
    """A TRC20 Transfer(address,address,uint256) event as TransactionInfo.log lists it (hex, no 0x, no 41)."""
    return {"address": to_hex_address(token)[2:], "topics": [TRANSFER_TOPIC, _word("address", sender),
                                                               _word("address", to)],
            "data": _word("uint256", amount)}


@dataclass(frozen=True)
class FakeTx:
    """One transaction as the two node APIs show it: its body, and its receipt (TransactionInfo)."""

    body: dict[str, Any]
    info: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.info["id"])

    @property
    def block(self) -> int:
        return int(self.info["blockNumber"])


def tx_body(txid: str, number: int, contract_type: str, value: dict[str, Any], ret: str) -> dict[str, Any]:
    return {
        "ret": [{"contractRet": ret}], "signature": [secrets.token_hex(65)], "txID": txid,
        "raw_data": {"contract": [{"parameter": {"value": value,
                                                 "type_url": f"type.googleapis.com/protocol.{contract_type}"},
                                   "type": contract_type}],
                     "ref_block_bytes": f"{number % 65536:04x}", "ref_block_hash": secrets.token_hex(8),
                     "expiration": GENESIS_MS + number * 3000 + 60_000, "fee_limit": 100_000_000,
                     "timestamp": GENESIS_MS + number * 3000 - 1_000},
        "raw_data_hex": secrets.token_hex(100),
    }


def trc20_transfer(number: int, to: str, amount: int, token: str = NILE_USDT, sender: str = PAYER,
                   result: str = "SUCCESS") -> FakeTx:
    """A TriggerSmartContract transfer(to, amount) call on a TRC20 token, and its receipt."""
    txid = tx_id()
    call = TRANSFER_SELECTOR + bytes(trx_abi.encode(["address", "uint256"], [to, amount])).hex()
    body = tx_body(txid, number, "TriggerSmartContract",
                 {"data": call, "owner_address": to_hex_address(sender), "contract_address": to_hex_address(token)},
                 result)
    info: dict[str, Any] = {
        "id": txid, "fee": 13_844_850, "blockNumber": number, "blockTimeStamp": GENESIS_MS + number * 3000,
        "contractResult": ["0000000000000000000000000000000000000000000000000000000000000001"
                           if result == "SUCCESS" else ""],
        "contract_address": to_hex_address(token),
        "receipt": {"energy_fee": 13_499_850, "energy_usage_total": 64_285, "net_fee": 345_000,
                    "result": result},
    }
    if result == "SUCCESS":
        info["log"] = [transfer_log(token, sender, to, amount)]
    else:
        info["result"] = "FAILED"
        info["resMessage"] = "5245564552540f6f70636f6465"
    return FakeTx(body, info)


def contract_trx_payout(number: int, to: str, sun: int, contract: str = OTHER_TOKEN) -> FakeTx:
    """A contract call that sent TRX on to `to`: an internal transaction in the receipt only."""
    txid = tx_id()
    body = tx_body(txid, number, "TriggerSmartContract",
                 {"data": "e63d38ed" + "00" * 64, "owner_address": to_hex_address(PAYER),
                  "contract_address": to_hex_address(contract), "call_value": sun}, "SUCCESS")
    info = {
        "id": txid, "fee": 1_100_000, "blockNumber": number, "blockTimeStamp": GENESIS_MS + number * 3000,
        "contractResult": [""], "contract_address": to_hex_address(contract),
        "receipt": {"energy_usage_total": 9_000, "net_fee": 345_000, "result": "SUCCESS"},
        "internal_transactions": [{"hash": secrets.token_hex(32), "caller_address": to_hex_address(contract),
                                   "transferTo_address": to_hex_address(to),
                                   "callValueInfo": [{"callValue": sun}], "note": "63616c6c"}],
    }
    return FakeTx(body, info)


def contract_usdt_payout(number: int, to: str, amount: int, contract: str = OTHER_TOKEN,
                         token: str = NILE_USDT) -> FakeTx:
    """An exchange's batch payout: a call to its own contract, which moves USDT; only the receipt's Transfer
    log (emitted by the USDT contract) names the recipient."""
    txid = tx_id()
    body = tx_body(txid, number, "TriggerSmartContract",
                   {"data": "e63d38ed" + "00" * 64, "owner_address": to_hex_address(PAYER),
                    "contract_address": to_hex_address(contract)}, "SUCCESS")
    info = {
        "id": txid, "fee": 27_000_000, "blockNumber": number, "blockTimeStamp": GENESIS_MS + number * 3000,
        "contractResult": [""], "contract_address": to_hex_address(contract),
        "receipt": {"energy_usage_total": 130_000, "net_fee": 345_000, "result": "SUCCESS"},
        "log": [transfer_log(token, contract, to, amount)],
    }
    return FakeTx(body, info)


def trx_transfer(number: int, to: str, sun: int, sender: str = PAYER) -> FakeTx:
    """A plain TransferContract: its receipt names no address, only its body says where the TRX went."""
    txid = tx_id()
    body = tx_body(txid, number, "TransferContract",
                 {"amount": sun, "owner_address": to_hex_address(sender), "to_address": to_hex_address(to)},
                 "SUCCESS")
    info = {"id": txid, "blockNumber": number, "blockTimeStamp": GENESIS_MS + number * 3000,
            "contractResult": [""], "receipt": {"net_usage": 268}}
    return FakeTx(body, info)


@dataclass
class FakeTronGrid:
    head: int = 1_000
    solid: int = 981
    base: str = NILE
    blocks: dict[int, list[FakeTx]] = field(default_factory=dict)
    down: bool = False  # every request answered 503
    refused: bool = False  # every request fails to connect (requests.ConnectionError), as to a host that is down
    hide_node_info: bool = False  # some gateways leave the heights out of getnodeinfo
    lag: int = 0  # blocks the second node behind the URL is behind (0: one node only)
    no_block_ranges: bool = False  # a gateway that does not serve getblockbylimitnext (404)
    answered: int = 0  # requests answered so far (alternates the nodes when lagging)
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)

    def add(self, tx: FakeTx) -> FakeTx:
        self.blocks.setdefault(tx.block, []).append(tx)
        return tx

    def advance(self, blocks: int, solid_lag: int = 19) -> None:
        self.head += blocks
        self.solid = self.head - solid_lag

    def calls(self, path: str | None = None) -> int:
        return sum(1 for p, _, _ in self.requests if path is None or p == path)

    def install(self, mock: responses.RequestsMock) -> None:
        for path in ("wallet/getnodeinfo", "wallet/getnowblock", "walletsolidity/getnowblock", "wallet/getblockbynum",
                     "walletsolidity/getblockbynum", "walletsolidity/getblockbylimitnext",
                     "wallet/gettransactioninfobyblocknum", "walletsolidity/gettransactioninfobyblocknum",
                     "wallet/gettransactioninfobyid", "walletsolidity/gettransactioninfobyid"):
            mock.add_callback(responses.POST, f"{self.base}/{path}", callback=self._answer(path),
                              content_type="application/json")
        mock.add_callback(responses.GET, re.compile(rf"{re.escape(self.base)}/v1/accounts/\w+/transactions/trc20"),
                          callback=self._account_trc20, content_type="application/json")

    def _account_trc20(self, request: Any) -> tuple[int, dict[str, str], str]:
        """TronGrid's account API: TRC20 transfers to (only_to) an address in solidified blocks, oldest first."""
        url = urlsplit(request.url)
        address = url.path.split("/")[3]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append((url.path.lstrip("/"), query, dict(request.headers)))
        if self.down:
            return 503, {}, json.dumps({"success": False, "error": "service unavailable"})
        since, limit = int(query.get("min_timestamp", 0)), int(query.get("limit", 20))
        items = []
        for number in sorted(self.blocks):
            for tx in self.blocks[number]:
                if number > self.solid or tx.info["blockTimeStamp"] < since or tx.info.get("result") == "FAILED":
                    continue
                for entry in tx.info.get("log") or []:
                    if entry["topics"][2][-40:] != to_hex_address(address)[2:]:
                        continue
                    token = to_base58check_address("41" + entry["address"][-40:])
                    items.append({"transaction_id": tx.id, "block_timestamp": tx.info["blockTimeStamp"],
                                  "from": to_base58check_address("41" + entry["topics"][1][-40:]), "to": address,
                                  "type": "Transfer", "value": str(int(entry["data"], 16)),
                                  "token_info": {"address": token, "decimals": 6, "symbol": "T", "name": "T"}})
        start = int(query.get("fingerprint", 0))
        page = items[start:start + limit]
        meta: dict[str, Any] = {"at": GENESIS_MS + self.head * 3000, "page_size": len(page)}
        if start + limit < len(items):
            meta["fingerprint"] = str(start + limit)
        return 200, {}, json.dumps({"data": page, "success": True, "meta": meta})

    def _answer(self, path: str) -> Any:
        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            params = json.loads(request.body or b"{}")
            self.requests.append((path, params, dict(request.headers)))
            if self.refused:
                raise requests.ConnectionError(f"{self.base}: [Errno 111] Connection refused")
            if self.down:
                return 503, {}, json.dumps({"Error": "service unavailable"})
            if self.no_block_ranges and path.endswith("getblockbylimitnext"):
                return 404, {}, "Not Found"
            self.answered += 1
            behind = self.lag if self.lag and self.answered % 2 == 0 else 0
            return 200, {}, json.dumps(self.tx_body(path, params, behind))
        return callback

    def tx_body(self, path: str, params: dict[str, Any], behind: int = 0) -> Any:
        """The answer of a node `behind` blocks behind the chain (0: an up-to-date node)."""
        head, solid = self.head - behind, self.solid - behind
        solid_view = path.startswith("walletsolidity/")
        if path == "wallet/getnodeinfo" and self.hide_node_info:
            return {"configNodeInfo": {"codeVersion": "4.7.6"}}
        if path == "wallet/getnodeinfo":
            return {"beginSyncNum": head - 5000, "block": f"Num:{head},ID:{head:064x}",
                    "solidityBlock": f"Num:{solid},ID:{solid:064x}", "currentConnectCount": 30,
                    "activeConnectCount": 10, "passiveConnectCount": 20, "totalFlow": 0,
                    "peerInfoList": [], "configNodeInfo": {"codeVersion": "4.7.6"}, "machineInfo": {},
                    "cheatWitnessInfoMap": {}}
        if path.endswith("getnowblock"):
            number = solid if solid_view else head
            return {"blockID": f"{number:064x}", "block_header": {"raw_data": {
                "number": number, "timestamp": GENESIS_MS + number * 3000}}}
        limit = solid if solid_view else head
        if path.endswith("gettransactioninfobyblocknum"):
            number = int(params["num"])
            if number > limit:
                return []  # the node does not have it (yet): indistinguishable from an empty block
            return [tx.info for tx in self.blocks.get(number, [])]
        if path.endswith("getblockbynum"):
            number = int(params["num"])
            return self._block(number) if number <= limit else {}
        if path.endswith("getblockbylimitnext"):
            start, end = int(params["startNum"]), int(params["endNum"])
            if not 0 < end - start <= 100:
                return {"Error": "class java.lang.IllegalArgumentException : startNum and endNum are invalid"}
            found = [self._block(n) for n in range(start, min(end, limit + 1))]
            return {"block": found} if found else {}
        if path.endswith("gettransactioninfobyid"):
            for number in sorted(self.blocks):
                if number <= limit:
                    for tx in self.blocks[number]:
                        if tx.id == params["value"]:
                            return tx.info
            return {}
        raise AssertionError(path)

    def _block(self, number: int) -> dict[str, Any]:
        block: dict[str, Any] = {"blockID": f"{number:016x}" + secrets.token_hex(24), "block_header": {
            "raw_data": {"number": number, "txTrieRoot": secrets.token_hex(32), "parentHash": "00" * 32,
                         "witness_address": to_hex_address(PAYER), "version": 30,
                         "timestamp": GENESIS_MS + number * 3000},
            "witness_signature": secrets.token_hex(65)}}
        if self.blocks.get(number):  # an empty block has no "transactions" key at all
            block["transactions"] = [tx.body for tx in self.blocks[number]]
        return block
