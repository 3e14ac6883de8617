"""Reading TRON blocks: transfers to watched addresses in receipts (TransactionInfo) and in block bodies.

Receipts are the authority (Transfer logs, with the execution result), read once per solidified block.
Bodies of blocks not yet solidified give the early sighting that makes an invoice `paid`: a plain TRX
transfer (whose receipt names no recipient), and a direct USDT `transfer`/`transferFrom` call, whose one
Transfer log is log 0 of its receipt, so both sightings share the payment's (tx, index) identity.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from eth_abi.exceptions import DecodingError
from tronpy.abi import trx_abi
from tronpy.keys import to_base58check_address, to_hex_address

from gateway_core.ports import ObservedTransfer

log = logging.getLogger(__name__)

# keccak256("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TRANSFER_SELECTOR, TRANSFER_FROM_SELECTOR = "a9059cbb", "23b872dd"
# Internal TRX transfers get indexes above any log index so (tx, index) stays unique per transfer.
INTERNAL_INDEX_BASE = 10_000


@dataclass(frozen=True)
class Watch:
    """What one scan looks for: watched addresses and the USDT contract, as 20-byte lowercase hex."""

    network: str
    wanted: frozenset[str]
    usdt: str
    head: int


@lru_cache(maxsize=65536)
def hex20(address: str) -> str:
    """The 20-byte hex form of a base58check address, as it appears at the end of a log topic."""
    return to_hex_address(address)[2:].lower()


def _at(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def _common(watch: Watch, tx_id: str, block: int, when: datetime, final: bool) -> dict[str, Any]:
    return {"chain": "tron", "network": watch.network, "tx_id": tx_id, "reference": None, "block_time": when,
            "confirmations": max(1, watch.head - block + 1), "final": final}


def from_receipt(watch: Watch, info: dict[str, Any], final: bool) -> Iterable[ObservedTransfer]:
    """Transfers to watched addresses in one TransactionInfo: TRC20 Transfer logs and internal TRX sends."""
    if info.get("result") == "FAILED" or info.get("receipt", {}).get("result", "SUCCESS") != "SUCCESS":
        return
    block = int(info["blockNumber"])
    common = _common(watch, info["id"], block, _at(info["blockTimeStamp"]), final)
    for index, entry in enumerate(info.get("log") or []):
        topics = entry.get("topics") or []
        if len(topics) != 3 or topics[0].lower() != TRANSFER_TOPIC or topics[2][-40:].lower() not in watch.wanted:
            continue
        to_address = trx_abi.decode(["address"], bytes.fromhex(topics[2]))[0]
        from_address = trx_abi.decode(["address"], bytes.fromhex(topics[1]))[0]
        (amount,) = trx_abi.decode(["uint256"], bytes.fromhex(entry.get("data") or "0" * 64))
        asset = "USDT" if entry.get("address", "").lower()[-40:] == watch.usdt else "TRC20"
        if asset == "TRC20":
            log.info("other TRC20 token to a deposit address",
                     extra={"tx_id": info["id"], "token": to_base58check_address("41" + entry["address"][-40:])})
        yield ObservedTransfer(transfer_index=index, asset=asset, amount=amount, to_address=to_address,
                               from_address=from_address, **common)
    # TRX sent by a contract (an exchange's batch payout, say) shows in the receipt as an internal transaction.
    for offset, internal in enumerate(info.get("internal_transactions") or []):
        target = str(internal.get("transferTo_address", ""))[-40:].lower()
        if target not in watch.wanted or internal.get("rejected"):
            continue
        sun = sum(int(v.get("callValue", 0)) for v in internal.get("callValueInfo") or [] if not v.get("tokenId"))
        if sun <= 0:
            continue
        yield ObservedTransfer(transfer_index=INTERNAL_INDEX_BASE + offset, asset="TRX", amount=sun,
                               to_address=to_base58check_address("41" + target),
                               from_address=to_base58check_address(internal["caller_address"]), **common)


def from_block(watch: Watch, block: dict[str, Any]) -> Iterable[ObservedTransfer]:
    """Early sightings in a block body: plain TRX transfers and direct USDT transfers to watched addresses."""
    header = (block.get("block_header") or {}).get("raw_data") or {}
    number, when = int(header.get("number", 0)), _at(header.get("timestamp", 0))
    for tx in block.get("transactions") or []:
        if ((tx.get("ret") or [{}])[0].get("contractRet") or "SUCCESS") != "SUCCESS":
            continue
        contracts = (tx.get("raw_data") or {}).get("contract") or []
        if len(contracts) != 1:
            continue
        kind, value = contracts[0].get("type"), (contracts[0].get("parameter") or {}).get("value") or {}
        sighting = _trx(value) if kind == "TransferContract" else (
            _usdt_call(value, watch.usdt) if kind == "TriggerSmartContract" else None)
        if sighting is None:
            continue
        asset, sender, to_address, amount = sighting
        if amount > 0 and hex20(to_address) in watch.wanted:
            yield ObservedTransfer(transfer_index=0, asset=asset, amount=amount, to_address=to_address,
                                   from_address=sender, **_common(watch, tx["txID"], number, when, final=False))


def _trx(value: dict[str, Any]) -> tuple[str, str, str, int] | None:
    try:
        return ("TRX", to_base58check_address(value["owner_address"]), to_base58check_address(value["to_address"]),
                int(value.get("amount", 0)))
    except (KeyError, ValueError):
        return None


def _usdt_call(value: dict[str, Any], usdt: str) -> tuple[str, str, str, int] | None:
    if str(value.get("contract_address", ""))[-40:].lower() != usdt:
        return None
    data = str(value.get("data", ""))
    try:
        args = bytes.fromhex(data[8:])
        if data[:8] == TRANSFER_SELECTOR:
            to_address, amount = trx_abi.decode(["address", "uint256"], args[:64])
            sender = to_base58check_address(value["owner_address"])
        elif data[:8] == TRANSFER_FROM_SELECTOR:
            sender, to_address, amount = trx_abi.decode(["address", "address", "uint256"], args[:96])
        else:
            return None
    except (KeyError, ValueError, DecodingError):
        return None  # malformed call data: the receipt, read once the block solidifies, decides
    return "USDT", sender, to_address, int(amount)
