"""The transition table: every allowed move works, every other one is refused; `plan` walks the table."""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import pytest

from gateway_core.domain.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    InvalidTransition,
    PaymentFacts,
    Status,
    overpaid,
    plan,
    transition,
)

S = Status
ALLOWED = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_every_allowed_transition_is_applied(current: Status, target: Status) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(("current", "target"), sorted(set(product(Status, Status)) - ALLOWED))
def test_every_other_transition_is_refused(current: Status, target: Status) -> None:
    with pytest.raises(InvalidTransition):
        transition(current, target)


def test_the_table_is_the_designed_lifecycle() -> None:
    assert ALLOWED == {
        (S.PENDING, S.PARTIALLY_PAID), (S.PENDING, S.PAID), (S.PENDING, S.EXPIRED), (S.PENDING, S.CANCELLED),
        (S.PARTIALLY_PAID, S.PAID), (S.PARTIALLY_PAID, S.UNDERPAID), (S.PARTIALLY_PAID, S.CANCELLED),
        (S.PAID, S.CONFIRMED), (S.PAID, S.PARTIALLY_PAID), (S.PAID, S.PENDING), (S.CONFIRMED, S.SETTLED),
        (S.EXPIRED, S.UNDERPAID), (S.EXPIRED, S.PAID), (S.UNDERPAID, S.PAID),
    }
    assert TERMINAL == {S.SETTLED, S.CANCELLED}


def facts(seen: str = "0", final: str = "0", closed: bool = False, tolerance: str = "0",
          direct: bool = True) -> PaymentFacts:
    return PaymentFacts(Fraction(seen), Fraction(final), closed, Fraction(tolerance), direct)


@pytest.mark.parametrize(("current", "given", "steps"), [
    (S.PENDING, facts(), []),
    (S.PENDING, facts("1/2"), [S.PARTIALLY_PAID]),
    (S.PARTIALLY_PAID, facts("1/2"), []),
    (S.PARTIALLY_PAID, facts("1"), [S.PAID]),
    (S.PENDING, facts("1"), [S.PAID]),
    (S.PENDING, facts("1", "1"), [S.PAID, S.CONFIRMED, S.SETTLED]),
    (S.PENDING, facts("1", "1", direct=False), [S.PAID, S.CONFIRMED]),
    (S.PAID, facts("1", "1/2"), []),
    (S.PAID, facts("1", "1"), [S.CONFIRMED, S.SETTLED]),
    (S.PENDING, facts(closed=True), [S.EXPIRED]),
    (S.PARTIALLY_PAID, facts("1/3", closed=True), [S.UNDERPAID]),
    (S.PENDING, facts("1/3", closed=True), [S.PARTIALLY_PAID, S.UNDERPAID]),
    (S.EXPIRED, facts("1/3", closed=True), [S.UNDERPAID]),
    (S.EXPIRED, facts("1", closed=True), [S.PAID]),
    (S.UNDERPAID, facts("1", closed=True), [S.PAID]),
    (S.PENDING, facts("99/100", tolerance="1/100"), [S.PAID]),
    (S.PENDING, facts("98/100", tolerance="1/100"), [S.PARTIALLY_PAID]),
    (S.PAID, facts("1/2"), [S.PARTIALLY_PAID]),  # a transfer dropped before finality
    (S.PAID, facts(), [S.PENDING]),
    (S.PAID, facts(closed=True), [S.PENDING, S.EXPIRED]),
    (S.CANCELLED, facts("1", "1"), []),
    (S.SETTLED, facts("2", "2"), []),
])
def test_plan_walks_the_table(current: Status, given: PaymentFacts, steps: list[Status]) -> None:
    assert plan(current, given) == steps


def test_overpaid_only_beyond_the_full_amount() -> None:
    assert not overpaid(facts("1"))
    assert overpaid(facts("100000001/100000000"))
