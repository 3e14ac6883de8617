# ruff: noqa: F811 - pytest fixtures are imported from quote_support and used as arguments
"""Quote locks: a SOL quote holds for QUOTE_LOCK_MINUTES, then the next read quotes what is due afresh; a payment
to the replaced quote is honoured within the grace, and recorded (flagged, at its value when seen) after it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.fakes.price_apis import SOURCES
from tests.integration.quote_support import (  # noqa: F401 - fixtures
    create,
    facts,
    live,
    lock_minutes,
    market,
    options,
    pay,
    reprice,
    status,
)


def test_each_quote_records_rate_sources_and_time_and_sol_is_locked(live, clock) -> None:
    app, key = live
    created = options(create(app, key))
    sol, usdc = created["SOL"], created["USDC"]
    assert sol["rate"] == 150 and sol["rate_sources"] == list(SOURCES) and sol["rated_at"] == "2026-01-15T12:00:00.000Z"
    assert sol["quote_expires_at"] == "2026-01-15T12:15:00.000Z"  # QUOTE_LOCK_MINUTES
    assert usdc["rate"] == Decimal("0.9998") and usdc["quote_expires_at"] == "2026-01-16T12:00:00.000Z"  # its life
    assert sol["amount_base_units"] == 66_666_667  # 10 USD at 150, rounded up


def test_a_lapsed_quote_is_requoted_on_the_next_read_with_a_new_amount_and_reference(live, clock, market) -> None:
    app, key = live
    first = create(app, key)
    number, old = first["invoice_number"], options(first)
    clock.advance(minutes=14, seconds=59)
    assert options(status(app, key, number))["SOL"]["reference"] == old["SOL"]["reference"]  # still locked
    reprice(market, "160")
    clock.advance(seconds=31)  # past the lock; the cached 150 is too old to serve
    fresh = options(status(app, key, number))
    assert fresh["SOL"]["reference"] != old["SOL"]["reference"] and fresh["SOL"]["rate"] == 160
    assert fresh["SOL"]["amount_base_units"] == 62_500_000  # 10 USD at 160
    assert fresh["SOL"]["quote_expires_at"] == "2026-01-15T12:30:30.000Z"
    assert fresh["USDC"] == old["USDC"] | {"rated_at": old["USDC"]["rated_at"]}  # stablecoins hold for the life
    page = app.test_client().get(f"/pay/{number}")
    assert "1 SOL = 160 USD" in page.get_data(as_text=True)
    assert facts(app, number)[2] == ["invoice.created", "invoice.requoted"]
    assert options(status(app, key, number))["SOL"]["reference"] == fresh["SOL"]["reference"]  # once only


def test_a_payment_to_the_old_quote_within_the_grace_is_honoured_at_the_old_rate(live, clock, market) -> None:
    app, key = live
    first = create(app, key)
    number, old = first["invoice_number"], options(first)["SOL"]
    reprice(market, "140")
    clock.advance(minutes=16)
    assert options(status(app, key, number))["SOL"]["amount_base_units"] == 71_428_572  # re-quoted at 140
    lapsed_at = clock.now() - timedelta(minutes=1)
    pay(app, number, "SOL", old["reference"], old["amount_base_units"], lapsed_at + timedelta(minutes=4, seconds=59),
        "tx-within-grace")
    state, payments, events = facts(app, number)
    assert state == "paid" and payments == [(old["amount_base_units"], False)]
    assert "invoice.payment_to_lapsed_quote" not in events


def test_a_payment_to_the_old_quote_after_the_grace_is_recorded_at_its_value_and_flagged(live, clock,
                                                                                          market) -> None:
    app, key = live
    first = create(app, key)
    number, old = first["invoice_number"], options(first)["SOL"]
    reprice(market, "140")
    clock.advance(minutes=16)
    status(app, key, number)  # re-quoted: 10 USD is now 0.071428572 SOL
    clock.advance(minutes=10)
    pay(app, number, "SOL", old["reference"], old["amount_base_units"], clock.now(), "tx-after-grace")
    state, payments, events = facts(app, number)
    # 0.066666667 SOL at 140 (the rate when seen) is 9.33 USD of 10: recorded, counted at that value, and the
    # merchant is told; its basis is the whole invoice at that rate (10 USD = 0.071428572 SOL).
    assert state == "partially_paid" and payments == [(71_428_572, True)]
    assert events[-2:] == ["invoice.payment_to_lapsed_quote", "invoice.partially_paid"]
    assert options(status(app, key, number))["SOL"]["amount_paid"] == Decimal("0.066666667")


def test_when_no_rate_can_be_had_the_lapsed_quote_stays_and_the_page_still_answers(live, clock, market) -> None:
    app, key = live
    first = create(app, key)
    number = first["invoice_number"]
    market.down.update(SOURCES)
    clock.advance(minutes=20)  # lapsed, and the cached rate is older than RATE_MAX_AGE_SECONDS
    assert options(status(app, key, number))["SOL"]["reference"] == options(first)["SOL"]["reference"]
    assert app.test_client().get(f"/pay/{number}").status_code == 200
