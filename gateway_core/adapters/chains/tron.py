"""TRON: USDT-TRC20 to watch-only per-invoice addresses, found by reading each new block once or twice.

Each tick makes one call for the chain's heights (head and solidified), then one call per new block:
each newly solidified block's receipts once (`walletsolidity/gettransactioninfobyblocknum`), which is
what makes a payment final, and, while caught up, each new block above the solidified height once as a
body (`wallet/getblockbynum`), so a payment shows as `paid` as soon as it is in a block. Behind one URL
answer several nodes, some behind the others: a node that has not solidified a block answers its
receipts with `[]`, as for an empty block, so blocks whose receipts came back empty are confirmed
empty by their solidified bodies (`walletsolidity/getblockbylimitnext`, one call per tick for all of
them); a block whose answers disagree (a body with transactions, or none) is asked once more, and if they
still disagree the scan stops there until the next tick. A head block a node lacks is read again too. The cost per
tick grows with blocks, not with open invoices: the watched addresses are a set looked up per transfer.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway_core import telemetry
from gateway_core.adapters.chains.tron_api import TronApi, TronApiError
from gateway_core.adapters.chains.tron_blocks import Watch, from_block, from_receipt, hex20
from gateway_core.ports import ObservedTransfer, ScanResult, TxFinality, WatchedAddress

MAINNET_USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
NILE_USDT = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
# Store networks onto TRON networks (DESIGN.md §6: devnet means Nile).
TRON_NETWORKS = {"devnet": "nile", "testnet": "nile", "mainnet": "mainnet"}
EXPLORERS = {"nile": "https://nile.tronscan.org", "mainnet": "https://tronscan.org"}
_NUM = re.compile(r"Num:(\d+)")
BLOCKS_PER_RANGE = 100  # the node's cap on getblockbylimitnext
BLOCK_SECONDS = 3.0  # TRON's block interval: the head's pace while it cannot be read (watcher lag)
log = logging.getLogger(__name__)


def tron_network(network: str) -> str:
    """'nile' or 'mainnet' for a store network (devnet/testnet/mainnet)."""
    try:
        return TRON_NETWORKS[network]
    except KeyError:
        raise ValueError(f"no TRON network for store network {network!r}") from None


def explorer_tx_url(network: str, tx_id: str) -> str:
    """Tronscan link for a transaction on the store network's TRON network."""
    return f"{EXPLORERS[tron_network(network)]}/#/transaction/{tx_id}"


def explorer_address_url(network: str, address: str) -> str:
    """Tronscan link for an address on the store network's TRON network."""
    return f"{EXPLORERS[tron_network(network)]}/#/address/{address}"


@dataclass(frozen=True)
class TronNetworkConfig:
    endpoint: str
    usdt_contract: str  # base58check


@dataclass
class _Seen:
    block: int
    solid: bool
    checked_at: int = -1  # solidified height when last asked by id (for transfers the scans could not settle)
    missed_at: int = -1  # solidified height when neither node knew it
    gone: bool = False  # still unknown long after: dropped with a fork, so it never finalizes


@dataclass(frozen=True)
class Heights:
    head: int
    solid: int


class TronChain:
    chain = "tron"
    received_assets = frozenset({"USDT", "TRC20"})  # what `received` can list (reconciliation compares those)

    def __init__(self, networks: dict[str, TronNetworkConfig], api_factory: Callable[[str], TronApi],
                 max_blocks_per_tick: int = 100, start_lookback_blocks: int = 100,
                 recheck_blocks: int = 20, drop_after_blocks: int = 1200,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._networks = networks
        self.lag = telemetry.HeadLag(self.chain, BLOCK_SECONDS, monotonic)
        self._api_factory = api_factory
        self._apis: dict[str, TronApi] = {}
        self._max_blocks = max_blocks_per_tick
        self._lookback = start_lookback_blocks
        self._recheck = recheck_blocks
        self._drop_after = drop_after_blocks
        self._heights: dict[str, Heights] = {}
        self._solid_read: dict[str, int] = {}  # last solidified block read, per network
        # What this process saw of watched transfers, so finality needs no call per payment.
        self._seen: dict[str, dict[str, _Seen]] = {}

    # -- ChainClient ---------------------------------------------------------------------------------------

    def scan(self, network: str, watched: Collection[WatchedAddress], cursor: str | None) -> ScanResult:
        """Newly solidified blocks' receipts (final), then new head blocks' bodies (not final), once each."""
        api = self.api(network)
        try:
            heights = self.heights(network)
        except TronApiError:
            self.lag.unreadable(network)
            raise
        solid_done, head_done = _parse_cursor(cursor, heights.solid - self._lookback)
        watch = Watch(network, frozenset(hex20(w.address) for w in watched),
                      hex20(self._config(network).usdt_contract), heights.head)
        transfers: list[ObservedTransfer] = []
        solid_to = min(heights.solid, solid_done + self._max_blocks)
        receipts: list[tuple[int, list[dict[str, Any]]]] = []
        for number in range(solid_done + 1, solid_to + 1):
            try:
                infos = api.post("walletsolidity/gettransactioninfobyblocknum", {"num": number})
            except TronApiError:
                if number == solid_done + 1:
                    self.lag.read(network, heights.solid, solid_done)
                    raise
                break  # keep what was read; the next tick resumes at this block
            receipts.append((number, infos if isinstance(infos, list) else []))
        # A node that has not solidified a block answers [] too: an empty list stands only once the
        # solidified body confirms the block holds no transaction (one call for every such block of the tick).
        bodies = self._solid_tx_counts(api, [n for n, infos in receipts if not infos])
        for number, infos in receipts:
            if not infos and bodies.get(number) != 0:
                infos = self._read_again(api, number, bodies)
                if infos is None:
                    log.info("tron receipts and body disagree, block read again next tick",
                             extra={"network": network, "block": number})
                    break
            transfers += self._solidified(watch, infos)
            solid_done = self._solid_read[network] = number
        self.lag.read(network, heights.solid, solid_done)
        if solid_done < solid_to:
            return ScanResult(transfers, _cursor(solid_done, max(head_done, solid_done)))
        head_done = max(head_done, heights.solid)
        # Early sightings only once caught up: blocks solidified meanwhile are read from their receipts.
        if solid_done == heights.solid:
            head_to = min(heights.head, head_done + self._max_blocks)
            for number in range(head_done + 1, head_to + 1):
                try:
                    block = api.post("wallet/getblockbynum", {"num": number})
                except TronApiError:
                    break
                if not (block or {}).get("block_header"):
                    break  # this node does not have the block yet: read it next tick
                for transfer in from_block(watch, block):
                    transfers.append(transfer)
                    self._remember(network, transfer.tx_id, number, solid=False)
                head_done = number
        return ScanResult(transfers, _cursor(solid_done, head_done))

    @staticmethod
    def _solid_tx_counts(api: TronApi, numbers: Sequence[int]) -> dict[int, int]:
        """Transactions in each solidified block of `numbers` the answering node has (others left out)."""
        counts: dict[int, int] = {}
        if not numbers:
            return counts
        first = min(numbers)
        while first <= max(numbers):
            end = min(first + BLOCKS_PER_RANGE, max(numbers) + 1)
            try:
                answer = api.post("walletsolidity/getblockbylimitnext", {"startNum": first, "endNum": end})
            except TronApiError:
                # A gateway without block ranges: the blocks one by one (an outage stops at the first failure).
                return counts | TronChain._solid_tx_counts_each(api, [n for n in numbers if n >= first])
            for block in (answer or {}).get("block") or []:
                number = _block_number(block)
                counts[number] = len(block.get("transactions") or [])
            first = end
        return counts

    def _read_again(self, api: TronApi, number: int, bodies: dict[int, int]) -> list[dict[str, Any]] | None:
        """Receipts of a block whose answers disagreed, asked once more (another node may answer): the
        receipts if they now agree with a body, None to leave the block to the next tick."""
        for _ in range(2):  # behind a balancer, the next answer may come from another node
            if number not in bodies:
                bodies.update(self._solid_tx_counts_each(api, [number]))
        if number not in bodies:
            return None
        if bodies[number] == 0:
            return []
        try:
            infos = api.post("walletsolidity/gettransactioninfobyblocknum", {"num": number})
        except TronApiError:
            return None
        # A node that has the block solidified has every receipt of it: a non-empty list is the whole block.
        return infos if isinstance(infos, list) and infos else None

    @staticmethod
    def _solid_tx_counts_each(api: TronApi, numbers: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for number in numbers:
            try:
                block = api.post("walletsolidity/getblockbynum", {"num": number})
            except TronApiError:
                break
            if (block or {}).get("block_header"):
                counts[number] = len(block.get("transactions") or [])
        return counts

    def _solidified(self, watch: Watch, infos: list[dict[str, Any]]) -> list[ObservedTransfer]:
        """Transfers in a solidified block's receipts; transactions sighted earlier become final here."""
        found: list[ObservedTransfer] = []
        seen = self._seen.setdefault(watch.network, {})
        for info in infos:
            if info.get("id") in seen:  # includes plain TRX transfers, whose receipts name no recipient
                self._remember(watch.network, info["id"], int(info["blockNumber"]), solid=True)
            if watch.wanted:
                for transfer in from_receipt(watch, info, final=True):
                    found.append(transfer)
                    self._remember(watch.network, transfer.tx_id, int(info["blockNumber"]), solid=True)
        return found

    def _remember(self, network: str, tx_id: str, block: int, solid: bool) -> None:
        self._seen.setdefault(network, {})[tx_id] = _Seen(block, solid=solid)

    def finality(self, network: str, tx_ids: Sequence[str]) -> dict[str, TxFinality]:
        """Final once the solidity node has the transaction: from this process's scans, else asked by id."""
        heights = self._heights.get(network) or self.heights(network)
        seen = self._seen.setdefault(network, {})
        answer: dict[str, TxFinality] = {}
        read = self._solid_read.get(network, heights.solid)
        for tx_id in tx_ids:
            entry = seen.get(tx_id)
            # Unknown here (seen before a restart), or its block solidified without it: ask by id, seldom.
            if entry is None or (not entry.solid and entry.block <= read
                                 and heights.solid - entry.checked_at >= self._recheck):
                entry = self._lookup(network, tx_id, heights)
            if entry.gone or entry.missed_at >= 0:
                answer[tx_id] = TxFinality(0, False, exists=not entry.gone)
                continue
            confirmations = max(0, heights.head - entry.block + 1)
            answer[tx_id] = TxFinality(confirmations, entry.solid, exists=True)
        return answer

    def received(self, network: str, address: str, since: datetime) -> list[ObservedTransfer]:
        """Confirmed token transfers (USDT and other TRC20) to `address` at or after `since`, as TronGrid's
        account API lists them: what reconciliation compares the records with (TRX is not listed there)."""
        api, usdt = self.api(network), self._config(network).usdt_contract
        path = f"v1/accounts/{address}/transactions/trc20"
        params: dict[str, Any] = {"only_to": "true", "only_confirmed": "true", "limit": 200,
                                  "min_timestamp": int(since.timestamp() * 1000), "order_by": "block_timestamp,asc"}
        found: list[ObservedTransfer] = []
        while True:
            answer = api.get(path, params)
            for item in answer.get("data") or []:
                if item.get("to") != address or item.get("type", "Transfer") != "Transfer":
                    continue
                token = (item.get("token_info") or {}).get("address")
                found.append(ObservedTransfer(
                    chain=self.chain, network=network, tx_id=item["transaction_id"], transfer_index=0,
                    asset="USDT" if token == usdt else "TRC20", amount=int(item["value"]), to_address=address,
                    from_address=item.get("from"), reference=None,
                    block_time=datetime.fromtimestamp(int(item["block_timestamp"]) / 1000, UTC),
                    confirmations=0, final=True))
            fingerprint = (answer.get("meta") or {}).get("fingerprint")
            if not fingerprint:
                return found
            params = {**params, "fingerprint": fingerprint}

    # -- chain reads ---------------------------------------------------------------------------------------

    def api(self, network: str) -> TronApi:
        """The (lazily built) API client of the store network's TRON network."""
        name = tron_network(network)
        if name not in self._apis:
            self._apis[name] = self._api_factory(self._config(network).endpoint)
        return self._apis[name]

    def heights(self, network: str) -> Heights:
        """Head and solidified block numbers in one call (node info), remembered for finality()."""
        api = self.api(network)
        info = api.post("wallet/getnodeinfo")
        head, solid = _num(info.get("block")), _num(info.get("solidityBlock"))
        if head is None or solid is None:  # a gateway that hides node info: ask for the two blocks instead
            solid = _block_number(api.post("walletsolidity/getnowblock"))
            head = _block_number(api.post("wallet/getnowblock"))
        heights = Heights(max(head, solid), solid)
        self._heights[network] = heights
        return heights

    def _lookup(self, network: str, tx_id: str, heights: Heights) -> _Seen:
        """Where a transaction is, asked by id: for payments seen before a restart, or dropped by a fork.

        Absent from both nodes is only 'gone' after `drop_after_blocks` more solidified blocks: a dropped
        payment stops counting for good, and a lagging node must not make a real one disappear.
        """
        api = self.api(network)
        seen = self._seen.setdefault(network, {})
        previous = seen.get(tx_id)
        info = api.post("walletsolidity/gettransactioninfobyid", {"value": tx_id})
        if info and "blockNumber" in info:
            entry = _Seen(int(info["blockNumber"]), solid=True)
        else:
            info = api.post("wallet/gettransactioninfobyid", {"value": tx_id})
            if info and "blockNumber" in info:
                entry = _Seen(int(info["blockNumber"]), solid=False, checked_at=heights.solid)
            else:
                missed_at = previous.missed_at if previous and previous.missed_at >= 0 else heights.solid
                entry = _Seen(previous.block if previous else heights.solid, solid=False,
                              checked_at=heights.solid, missed_at=missed_at,
                              gone=heights.solid - missed_at >= self._drop_after)
        seen[tx_id] = entry
        return entry

    def _config(self, network: str) -> TronNetworkConfig:
        return self._networks[tron_network(network)]

def _parse_cursor(cursor: str | None, start: int) -> tuple[int, int]:
    """'solid:head' block numbers already read; a first run starts a little before the solidified head."""
    if not cursor:
        return max(0, start), max(0, start)
    solid, _, head = cursor.partition(":")
    return int(solid), int(head or solid)


def _cursor(solid: int, head: int) -> str:
    return f"{solid}:{max(solid, head)}"


def _num(text: object) -> int | None:
    match = _NUM.search(str(text or ""))
    return int(match.group(1)) if match else None


def _block_number(block: dict[str, Any]) -> int:
    try:
        return int(block["block_header"]["raw_data"]["number"])
    except (KeyError, TypeError, ValueError):
        raise TronApiError("block without a number") from None


def tron_chain_from_settings(settings: Any) -> TronChain:
    """The TRON client configured from Settings (TronGrid key, endpoints, USDT contracts, limits)."""
    networks = {
        "nile": TronNetworkConfig(settings.tron_api_url_nile, settings.tron_usdt_contract_nile),
        "mainnet": TronNetworkConfig(settings.tron_api_url_mainnet, settings.tron_usdt_contract_mainnet),
    }

    def factory(endpoint: str) -> TronApi:
        return TronApi(endpoint, settings.trongrid_api_key, timeout=settings.tron_timeout_seconds,
                       per_second=settings.tron_requests_per_second)

    return TronChain(networks, factory, max_blocks_per_tick=settings.tron_max_blocks_per_tick,
                     start_lookback_blocks=settings.tron_start_lookback_blocks)
