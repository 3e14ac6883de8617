"""One watcher tick for one chain on one network: scan, record, follow finality, persist the cursor."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, or_, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ChainCursor, Invoice, Quote, Store
from gateway_core.payments.transfers import record_transfers, refresh_finality, with_parked
from gateway_core.payments.valuation import Quoting
from gateway_core.ports import ChainClient, Clock, WatchedAddress

UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class TickReport:
    chain: str
    network: str
    recorded: int
    finalised: int


def watched_addresses(
    uow: UnitOfWork, chain: str, network: str, clock: Clock, late_window: timedelta
) -> set[WatchedAddress]:
    """Addresses of open invoices, and of recently closed ones so late payments are still seen.

    Deposit addresses say whether the buyer picked their asset; shared direct-mode wallets do not (they are
    read whole whatever anyone picked, and leaving the pick out keeps one entry per wallet and asset).
    """
    recently = clock.now() - late_window
    opened = func.max(Invoice.created_at)
    closed = func.min(case((Invoice.closed_at.is_(None), 0), else_=1))
    rows = uow.session.execute(
        select(Quote.address, Quote.asset, Store.settlement_mode, Invoice.chosen_asset, opened, closed)
        .select_from(Quote)
        .join(Invoice).join(Store, Store.id == Invoice.store_id)
        .where(Quote.chain == chain, Invoice.network == network)
        .where(or_(Invoice.closed_at.is_(None), Invoice.closed_at >= recently))
        .group_by(Quote.address, Quote.asset, Store.settlement_mode, Invoice.chosen_asset)
        .order_by(opened.desc())
    ).all()
    # Newest first: of equal entries (a shared wallet's picks) the set keeps the first, the newest opening.
    return {
        WatchedAddress(address, asset, True, None if not picked else asset.upper() == picked.upper(), when,
                       bool(late))
        if mode == "deposit" else WatchedAddress(address, asset, opened=when, closed=bool(late))
        for address, asset, mode, picked, when, late in rows
    }


def scoped_cursors(uow: UnitOfWork, chain: str, network: str) -> dict[str, str]:
    """Per-scope cursors (e.g. one per Solana account) of clients that keep more than one."""
    rows = uow.session.execute(
        select(ChainCursor.scope, ChainCursor.position)
        .where(ChainCursor.chain == chain, ChainCursor.network == network, ChainCursor.scope != "")
    ).all()
    return {scope: position for scope, position in rows}


def watch_tick(uow_factory: UowFactory, client: ChainClient, network: str, clock: Clock, quoting: Quoting,
               late_window: timedelta = timedelta(hours=72), only: Mapping[str, Any] | None = None,
               reads: UowFactory | None = None, watched: Collection[WatchedAddress] | None = None) -> TickReport:
    """Scan once and record what was found; every step is idempotent, so a crash mid-tick is harmless.

    One transfer or invoice that fails is parked (and retried later) rather than failing the tick.
    `only` narrows the scan to some accounts (a push notification: account -> what it said, or None) for
    clients that read per account; the rest of the tick is the same. `reads` gives read-only units of work
    for the reads before the scan (on SQLite they then take no write turn); `watched`, the watched addresses
    when the caller has them already (the push reader: those it subscribed).
    """
    with (reads or uow_factory)() as uow:
        if watched is None:
            watched = watched_addresses(uow, client.chain, network, clock, late_window)
        row = uow.session.get(ChainCursor, (client.chain, network, ""))
        cursor = row.position if row else None
        scoped = scoped_cursors(uow, client.chain, network) if getattr(client, "scoped_cursors", False) else None
    if scoped is None:
        result = client.scan(network, watched, cursor)
    elif only is None:
        result = client.scan(network, watched, cursor, scoped=scoped)  # type: ignore[call-arg]
    else:
        result = client.scan(network, watched, cursor, scoped=scoped, only=only)  # type: ignore[call-arg]
    # Parked transfers whose backoff has passed are tried again with what the scan found.
    found = with_parked(reads or uow_factory, client.chain, network, result.transfers, clock)
    recorded = record_transfers(uow_factory, found, clock, quoting, reads=reads)
    if result.cursors:
        # Only after the transfers are recorded (or parked with their facts, payments/parked.py): a crash in
        # between re-reads them, never skips them.
        with uow_factory() as uow:
            for scope, position in result.cursors.items():
                uow.session.merge(ChainCursor(chain=client.chain, network=network, scope=scope, position=position,
                                              updated_at=clock.now()))
    if result.cursor is not None and result.cursor != cursor:
        with uow_factory() as uow:
            uow.session.merge(ChainCursor(chain=client.chain, network=network, scope="", position=result.cursor,
                                          updated_at=clock.now()))
    # A narrowed (pushed) read records what is new at once; following finality is the full tick's job.
    finalised = refresh_finality(uow_factory, client, network, clock) if only is None else 0
    return TickReport(client.chain, network, recorded, finalised)
