"""The one invoice lifecycle (DESIGN.md §4): the transition table and the pure rule that walks it.

Only this module decides a status. Services gather facts (what was paid, what is final, whether the
window closed) and apply the steps `plan` returns, one event per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction


class Status(StrEnum):
    PENDING = "pending"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CONFIRMED = "confirmed"
    SETTLED = "settled"
    EXPIRED = "expired"
    UNDERPAID = "underpaid"
    CANCELLED = "cancelled"


S = Status
# Every allowed move. Late payments re-open closed windows (expired -> paid, underpaid -> paid):
# the money is on chain, so it is recorded and reported rather than lost.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.PENDING: frozenset({S.PARTIALLY_PAID, S.PAID, S.EXPIRED, S.CANCELLED}),
    S.PARTIALLY_PAID: frozenset({S.PAID, S.UNDERPAID, S.CANCELLED}),
    # A transfer dropped before finality takes its amount back out (PAID -> PARTIALLY_PAID / PENDING).
    S.PAID: frozenset({S.CONFIRMED, S.PARTIALLY_PAID, S.PENDING}),
    S.CONFIRMED: frozenset({S.SETTLED}),
    S.SETTLED: frozenset(),
    S.EXPIRED: frozenset({S.UNDERPAID, S.PAID}),
    S.UNDERPAID: frozenset({S.PAID}),
    S.CANCELLED: frozenset(),
}

OPEN = frozenset({S.PENDING, S.PARTIALLY_PAID})
TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)

# The canonical event each arrival status announces.
EVENT_FOR_STATUS: dict[Status, str] = {
    S.PENDING: "invoice.reopened",
    S.PARTIALLY_PAID: "invoice.partially_paid",
    S.PAID: "invoice.paid",
    S.CONFIRMED: "invoice.confirmed",
    S.SETTLED: "invoice.settled",
    S.EXPIRED: "invoice.expired",
    S.UNDERPAID: "invoice.underpaid",
    S.CANCELLED: "invoice.cancelled",
}


class InvalidTransition(Exception):
    """A status change the lifecycle does not allow."""

    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"invoice cannot go from {current} to {target}")
        self.current = current
        self.target = target


def transition(current: Status, target: Status) -> Status:
    """The target status if the table allows the move, else InvalidTransition."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target


@dataclass(frozen=True)
class PaymentFacts:
    """What the chain says about an invoice: fractions of the amount due, seen and final."""

    seen: Fraction
    final: Fraction
    window_closed: bool
    tolerance: Fraction = Fraction(0)
    # Direct mode: the funds are already in the merchant's wallet once final, so confirmed -> settled.
    settle_on_confirm: bool = True

    @property
    def threshold(self) -> Fraction:
        return 1 - self.tolerance


def plan(current: Status, facts: PaymentFacts) -> list[Status]:
    """The statuses an invoice passes through, in order, given the facts (empty if nothing changes)."""
    steps: list[Status] = []
    status = current
    while (nxt := _next(status, facts)) is not None:
        status = transition(status, nxt)
        steps.append(status)
    return steps


def _next(status: Status, facts: PaymentFacts) -> Status | None:
    full = facts.seen >= facts.threshold
    some = facts.seen > 0
    if status in (S.PENDING, S.EXPIRED, S.UNDERPAID, S.PARTIALLY_PAID) and full:
        return S.PAID
    if status is S.PENDING:
        if some:
            return S.PARTIALLY_PAID
        return S.EXPIRED if facts.window_closed else None
    if status is S.PARTIALLY_PAID:
        return S.UNDERPAID if facts.window_closed else None
    if status is S.EXPIRED and some:
        return S.UNDERPAID
    if status is S.PAID and not full:
        return S.PARTIALLY_PAID if some else S.PENDING
    if status is S.PAID and facts.final >= facts.threshold:
        return S.CONFIRMED
    if status is S.CONFIRMED and facts.settle_on_confirm:
        return S.SETTLED
    return None


def overpaid(facts: PaymentFacts) -> bool:
    """More than the amount due was seen."""
    return facts.seen > 1
