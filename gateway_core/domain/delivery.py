"""When a failed delivery is tried again (DESIGN.md §7), and how healthy an endpoint looks. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

# VOLTXT retries after 10 s, 30 s and 60 s; then, like Venmob, every 30 minutes until 6 hours have passed.
FIRST_RETRIES = (timedelta(seconds=10), timedelta(seconds=30), timedelta(seconds=60))
LATER_RETRY = timedelta(minutes=30)
GIVE_UP_AFTER = timedelta(hours=6)


def next_retry(attempts: int, since_first: timedelta) -> timedelta | None:
    """Delay before the next try after `attempts` failed tries, the first `since_first` ago; None: dead-letter."""
    delay = FIRST_RETRIES[attempts - 1] if attempts <= len(FIRST_RETRIES) else LATER_RETRY
    if since_first + delay > GIVE_UP_AFTER:
        return None
    return delay


def schedule() -> list[timedelta]:
    """The whole retry schedule, as offsets from the first try (for documentation and tests)."""
    offsets, elapsed, attempts = [], timedelta(0), 1
    while (delay := next_retry(attempts, elapsed)) is not None:
        elapsed += delay
        offsets.append(elapsed)
        attempts += 1
    return offsets


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p50 = 0.5), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 1000) * len(ordered) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


def health(outcomes: Sequence[bool]) -> str:
    """healthy / degraded / failing from recent attempt outcomes, oldest first.

    failing: the last three tries failed, or fewer than half succeeded; degraded: the last try failed or
    fewer than 95% succeeded; healthy otherwise (including no traffic yet).
    """
    if not outcomes:
        return "healthy"
    rate = sum(outcomes) / len(outcomes)
    if (len(outcomes) >= 3 and not any(outcomes[-3:])) or rate < 0.5:
        return "failing"
    if not outcomes[-1] or rate < 0.95:
        return "degraded"
    return "healthy"
