"""Reconciliation: per watched account, what the chain shows received against the payments recorded.

The chain's side is every final transfer to the account since its oldest watched invoice was created, read
by the chain client's `received` (Solana: the account's and its USDC account's histories, each transaction
parsed as the watcher parses it; TRON: the token transfers TronGrid lists for the address). The recorded
side is every payment to the account in the same time span that the network did not drop, matched or not.
Both are summed per transaction and asset; any transaction where they differ is a difference. A recorded
payment that is not final yet is only compared once the chain shows its transaction final.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from sqlalchemy import func, or_, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Invoice, Payment, Quote
from gateway_core.payments.transfers import DROPPED
from gateway_core.ports import Clock, ObservedTransfer

log = logging.getLogger(__name__)
UowFactory = Callable[[], UnitOfWork]


@runtime_checkable
class ReceivedHistory(Protocol):
    """A chain client that can list the final transfers an address received (for reconciliation)."""

    chain: str

    def received(self, network: str, address: str, since: datetime) -> Sequence[ObservedTransfer]:
        """Final transfers to `address` with a block time at or after `since`."""
        ...


@dataclass(frozen=True)
class Difference:
    """One transaction whose transfers to an account the chain and the records count differently."""

    tx_id: str
    asset: str
    on_chain: int  # base units
    recorded: int


@dataclass(frozen=True)
class AccountCheck:
    """The reconciliation of one watched account."""

    chain: str
    network: str
    address: str
    since: datetime
    on_chain: dict[str, int] = field(default_factory=dict)  # asset -> base units received, final
    recorded: dict[str, int] = field(default_factory=dict)  # asset -> base units in payments, final ones
    differences: tuple[Difference, ...] = ()
    error: str | None = None  # the chain could not be read: nothing was compared

    @property
    def ok(self) -> bool:
        return self.error is None and not self.differences


def watched_accounts(uow: UnitOfWork, clock: Clock, late_window: timedelta,
                     store_id: int | None = None) -> dict[tuple[str, str, str], datetime]:
    """(chain, network, address) of open and recently closed invoices' quotes, with the oldest one's creation."""
    recently = clock.now() - late_window
    query = (select(Quote.chain, Invoice.network, Quote.address, func.min(Invoice.created_at))
             .select_from(Quote).join(Invoice)
             .where(or_(Invoice.closed_at.is_(None), Invoice.closed_at >= recently))
             .group_by(Quote.chain, Invoice.network, Quote.address))
    if store_id is not None:
        query = query.where(Invoice.store_id == store_id)
    return {(chain, network, address): since for chain, network, address, since in uow.session.execute(query)}


def reconcile(uow_factory: UowFactory, chains: Mapping[str, object], clock: Clock, late_window: timedelta,
              store_id: int | None = None) -> list[AccountCheck]:
    """One AccountCheck per watched account of a chain whose client can list what an address received."""
    with uow_factory() as uow:
        accounts = watched_accounts(uow, clock, late_window, store_id)
    checks: list[AccountCheck] = []
    for (chain, network, address), created in sorted(accounts.items()):
        client = chains.get(chain)
        if not isinstance(client, ReceivedHistory):
            continue  # the sandbox has no chain to compare with
        since = created.replace(microsecond=0)  # block times are whole seconds
        try:
            seen = client.received(network, address, since)
        except Exception as exc:  # any failure to read the chain is reported as such, never taken for a pass
            log.warning("reconcile: chain not readable", extra={"address": address, "error": str(exc)})
            checks.append(AccountCheck(chain, network, address, since, error=f"{type(exc).__name__}: {exc}"))
            continue
        with uow_factory() as uow:
            rows = uow.session.execute(
                select(Payment).where(Payment.chain == chain, Payment.network == network,
                                      Payment.to_address == address, Payment.block_time >= since,
                                      Payment.disposition != DROPPED)
            ).scalars().all()
            assets = getattr(client, "received_assets", None)  # a client that lists only some assets
            recorded = [(p.tx_id, p.asset, p.amount, p.final) for p in rows if assets is None or p.asset in assets]
        checks.append(compare(chain, network, address, since, seen, recorded))
    return checks


def compare(chain: str, network: str, address: str, since: datetime, seen: Iterable[ObservedTransfer],
            recorded: Iterable[tuple[str, str, int, bool]]) -> AccountCheck:
    """Per transaction and asset: the chain's final transfers against the recorded payments."""
    chain_sums: dict[tuple[str, str], int] = {}
    for transfer in seen:
        key = (transfer.tx_id, transfer.asset)
        chain_sums[key] = chain_sums.get(key, 0) + transfer.amount
    record_sums: dict[tuple[str, str], int] = {}
    pending: set[tuple[str, str]] = set()
    for tx_id, asset, amount, final in recorded:
        record_sums[(tx_id, asset)] = record_sums.get((tx_id, asset), 0) + amount
        if not final:
            pending.add((tx_id, asset))
    differences = [
        Difference(tx_id, asset, chain_sums.get((tx_id, asset), 0), record_sums.get((tx_id, asset), 0))
        for tx_id, asset in sorted(chain_sums.keys() | record_sums.keys())
        if chain_sums.get((tx_id, asset), 0) != record_sums.get((tx_id, asset), 0)
        # In flight: recorded, not final on chain yet (or dropped later, which the watcher will say).
        and not ((tx_id, asset) in pending and (tx_id, asset) not in chain_sums)
    ]
    return AccountCheck(chain, network, address, since, _totals(chain_sums),
                        _totals({k: v for k, v in record_sums.items() if k not in pending or k in chain_sums}),
                        tuple(differences))


def _totals(sums: Mapping[tuple[str, str], int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (_, asset), amount in sums.items():
        totals[asset] = totals.get(asset, 0) + amount
    return totals
