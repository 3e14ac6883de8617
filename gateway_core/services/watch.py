"""One watcher tick for one chain on one network: scan, record, follow finality, persist the cursor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ChainCursor, Invoice, Quote
from gateway_core.ports import ChainClient, Clock, WatchedAddress
from gateway_core.services.payments import record_transfers, refresh_finality

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
    """Addresses of open invoices, and of recently closed ones so late payments are still seen."""
    recently = clock.now() - late_window
    rows = uow.session.execute(
        select(Quote.address, Quote.asset).join(Invoice)
        .where(Quote.chain == chain, Invoice.network == network)
        .where(or_(Invoice.closed_at.is_(None), Invoice.closed_at >= recently))
        .distinct()
    ).all()
    return {WatchedAddress(address, asset) for address, asset in rows}


def watch_tick(uow_factory: UowFactory, client: ChainClient, network: str, clock: Clock,
               late_window: timedelta = timedelta(hours=72)) -> TickReport:
    """Scan once and record what was found; every step is idempotent, so a crash mid-tick is harmless."""
    with uow_factory() as uow:
        watched = watched_addresses(uow, client.chain, network, clock, late_window)
        row = uow.session.get(ChainCursor, (client.chain, network, ""))
        cursor = row.position if row else None
    result = client.scan(network, watched, cursor)
    recorded = record_transfers(uow_factory, result.transfers, clock)
    if result.cursor is not None and result.cursor != cursor:
        with uow_factory() as uow:
            uow.session.merge(ChainCursor(chain=client.chain, network=network, scope="", position=result.cursor,
                                          updated_at=clock.now()))
    finalised = refresh_finality(uow_factory, client, network, clock)
    return TickReport(client.chain, network, recorded, finalised)
