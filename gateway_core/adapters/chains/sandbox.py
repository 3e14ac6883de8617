"""The sandbox network: a ledger in the database, read through the same ChainClient protocol as real chains.

Transfers become final `finality_seconds` after they are added, so the pay page shows the same
paid -> confirmed progression a buyer sees on a real chain.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from gateway_core.adapters.models import Payment, SandboxTransfer
from gateway_core.ports import Clock, ObservedTransfer, ScanResult, TxFinality, WatchedAddress

REQUIRED_CONFIRMATIONS = 32


class SandboxChain:
    chain = "sandbox"

    def __init__(self, session_factory: Callable[[], Session], clock: Clock, finality_seconds: float,
                 page_size: int = 1000) -> None:
        self._sessions = session_factory
        self._clock = clock
        self._finality = finality_seconds
        self._page = page_size

    def scan(self, network: str, watched: Collection[WatchedAddress], cursor: str | None) -> ScanResult:
        """Ledger transfers not yet recorded as payments.

        The ledger lives beside the payments table, so 'not yet recorded' is exact; an id cursor would
        skip rows whose inserting transaction commits after a later id is read.
        """
        seen = select(Payment.id).where(and_(Payment.chain == self.chain, Payment.tx_id == SandboxTransfer.tx_id))
        with self._sessions() as session:
            rows = session.execute(
                select(SandboxTransfer).where(~seen.exists()).order_by(SandboxTransfer.id).limit(self._page)
            ).scalars().all()
            transfers = [self._observed(network, row) for row in rows]
        return ScanResult(transfers, cursor)

    def finality(self, network: str, tx_ids: Sequence[str]) -> dict[str, TxFinality]:
        with self._sessions() as session:
            rows = session.execute(
                select(SandboxTransfer.tx_id, SandboxTransfer.created_at).where(SandboxTransfer.tx_id.in_(tx_ids))
            ).all()
        return {tx_id: self._state(created_at) for tx_id, created_at in rows}

    def _state(self, created_at: object) -> TxFinality:
        age = (self._clock.now() - created_at).total_seconds()  # type: ignore[operator]
        if self._finality <= 0 or age >= self._finality:
            return TxFinality(REQUIRED_CONFIRMATIONS, True)
        return TxFinality(max(1, int(REQUIRED_CONFIRMATIONS * age / self._finality)), False)

    def _observed(self, network: str, row: SandboxTransfer) -> ObservedTransfer:
        state = self._state(row.created_at)
        return ObservedTransfer(
            chain=self.chain, network=network, tx_id=row.tx_id, transfer_index=0, asset=row.asset,
            amount=row.amount, to_address=row.to_address, from_address=row.from_address,
            reference=row.reference, block_time=row.created_at, confirmations=state.confirmations,
            final=state.final,
        )
