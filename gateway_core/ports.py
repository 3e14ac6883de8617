"""The seams of the core: small protocols with one module per implementation under adapters/."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class WatchedAddress:
    """An address the watcher must look at, with the references expected there (direct mode shares addresses)."""

    address: str
    asset: str


@dataclass(frozen=True)
class ObservedTransfer:
    """A transfer as a chain reports it, before it is matched to an invoice."""

    chain: str
    network: str
    tx_id: str
    transfer_index: int
    asset: str
    amount: int  # base units credited to `to_address`
    to_address: str
    from_address: str | None
    reference: str | None
    block_time: datetime
    confirmations: int
    final: bool


@dataclass(frozen=True)
class ScanResult:
    transfers: Sequence[ObservedTransfer]
    cursor: str | None


@dataclass(frozen=True)
class TxFinality:
    confirmations: int
    final: bool
    # False when the chain dropped the transaction (it will never finalize).
    exists: bool = True


class ChainClient(Protocol):
    """Reads one chain. Implementations: adapters/chains/{sandbox,solana,tron}.py."""

    chain: str

    def scan(self, network: str, watched: Collection[WatchedAddress], cursor: str | None) -> ScanResult:
        """Transfers to watched addresses since `cursor`, and the cursor to persist afterwards."""
        ...

    def finality(self, network: str, tx_ids: Sequence[str]) -> dict[str, TxFinality]:
        """Current confirmations and finality of transactions seen earlier."""
        ...


class RateSource(Protocol):
    """Prices of assets in fiat currencies."""

    def rate(self, asset: str, currency: str) -> Decimal:
        """Price of one unit of `asset` in `currency`; RateUnavailable if unknown."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
