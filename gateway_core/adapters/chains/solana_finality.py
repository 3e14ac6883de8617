"""Finality of Solana signatures from what the watcher's listings said, and from the cluster's statuses.

A listing (getSignaturesForAddress) carries each signature's confirmation status and slot, so the watcher's
own reads answer for the finality of what is in flight at no RPC cost; only signatures no recent listing
covered are asked of the cluster (SolanaChain.finality with `ask_cluster`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus

from gateway_core.ports import TxFinality

FINAL_CONFIRMATIONS = 32
# A listing older than this no longer answers for a signature's finality: the cluster is asked instead
# (the watcher is the one refreshing listings; if it stalls, the deposit job must not trust old ones).
LISTING_FRESH = 60.0


class Listings:
    """Per network: the last scans' listings, the newest slot seen, and the signatures the cluster stopped
    knowing (since when)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        # network -> (when, signature -> its entry in the last scan's listings): finality without a status call.
        self._listed: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._tip: dict[str, int] = {}  # network -> newest slot seen, for confirmations of listed signatures
        self._missing: dict[tuple[str, str], float] = {}  # signatures the cluster stopped knowing, since when

    def tip(self, network: str) -> int:
        """The newest slot seen on `network` (0 before any)."""
        return self._tip.get(network, 0)

    def saw_slot(self, network: str, slot: Any) -> None:
        """Note a slot a reply carried: the head moved at least that far."""
        if isinstance(slot, int) and slot > self._tip.get(network, 0):
            self._tip[network] = slot

    def keep(self, network: str, listed: dict[str, dict[str, Any]], narrowed: bool) -> None:
        """A full scan's listings replace the last ones; a narrowed scan's add to them."""
        if narrowed and network in self._listed:
            _, previous = self._listed[network]
            previous.update(listed)
            return
        self._listed[network] = (self._now(), listed)

    def known(self, network: str, tx_ids: Sequence[str]) -> tuple[dict[str, TxFinality], list[str]]:
        """(finality of the signatures a fresh listing covers, the others in order)."""
        when, listed = self._listed.get(network, (float("-inf"), {}))
        if self._now() - when > LISTING_FRESH:
            listed = {}
        states: dict[str, TxFinality] = {}
        unknown: list[str] = []
        for signature in tx_ids:
            info = listed.get(signature)
            if info is None:
                unknown.append(signature)
                continue
            self._missing.pop((network, signature), None)
            states[signature] = self._listed_finality(network, info)
        return states, unknown

    def _listed_finality(self, network: str, info: dict[str, Any]) -> TxFinality:
        """A listing entry's finality; confirmations are counted against the newest slot seen, and stay
        below the final count until the cluster says finalized."""
        if info.get("err") is not None:
            return TxFinality(0, False, exists=False)
        if info.get("confirmationStatus") == "finalized":
            return TxFinality(FINAL_CONFIRMATIONS, True)
        depth = self._tip.get(network, 0) - int(info.get("slot") or 0)
        return TxFinality(min(FINAL_CONFIRMATIONS - 1, max(1, depth)), False)

    def judge(self, network: str, signature: str, status: TransactionStatus | None,
              drop_after: float) -> TxFinality:
        """A signature the cluster does not know is dropped only once it stayed unknown for `drop_after`
        seconds (past a blockhash's lifetime): one lagging node behind a load balancer must not drop a payment.
        """
        key = (network, signature)
        if status is not None:
            self._missing.pop(key, None)
            return _finality(status)
        first = self._missing.setdefault(key, self._now())
        if self._now() - first >= drop_after:
            self._missing.pop(key, None)
            return TxFinality(0, False, exists=False)
        return TxFinality(0, False)


def _finality(status: TransactionStatus) -> TxFinality:
    if status.err is not None:
        return TxFinality(0, False, exists=False)
    if status.confirmation_status == TransactionConfirmationStatus.Finalized:
        return TxFinality(FINAL_CONFIRMATIONS, True)
    return TxFinality(max(1, int(status.confirmations or 1)), False)
