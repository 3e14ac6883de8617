# ruff: noqa: F811 - pytest fixtures are imported from quote_support and used as arguments
"""A payment to a quote whose lock lapsed and that nobody re-quoted: honoured within QUOTE_GRACE_MINUTES of the
lapse; later, valued at the rate when the watcher saw it (through the rate port) and flagged for the merchant;
with no fresh rate at that moment, recorded, flagged and left uncounted until the worker can value it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from gateway_core.payments.valuation import value_awaiting
from gateway_core.worker import refresh_rates
from tests.fakes.price_apis import SOURCES
from tests.integration.quote_support import (  # noqa: F401 - fixtures
    create,
    event_data,
    facts,
    live,
    lock_minutes,
    market,
    options,
    pay,
    payment_rows,
    reprice,
    status,
)

LOCKED_FOR = timedelta(minutes=15)  # QUOTE_LOCK_MINUTES
GRACE = timedelta(minutes=5)  # QUOTE_GRACE_MINUTES


def test_inside_the_grace_a_lapsed_quote_nobody_requoted_is_honoured_at_its_rate(live, clock, market) -> None:
    app, key = live
    made = create(app, key)
    sol, created, fetched = options(made)["SOL"], clock.now(), sum(market.calls.values())
    reprice(market, "120")  # the market fell 20 %: the old amount is worth less, yet it was the price asked
    clock.advance(minutes=21)
    pay(app, made["invoice_number"], "SOL", sol["reference"], sol["amount_base_units"],
        created + LOCKED_FOR + GRACE, "tx-in-grace")
    state, payments, events = facts(app, made["invoice_number"])
    assert state == "paid" and payments == [(None, False)] and "invoice.payment_to_lapsed_quote" not in events
    assert sum(market.calls.values()) == fetched  # honouring it needed no rate


def test_after_the_grace_it_is_valued_at_the_rate_when_seen_and_flagged(live, clock, market) -> None:
    app, key = live
    made = create(app, key)
    number, sol, created = made["invoice_number"], options(made)["SOL"], clock.now()
    reprice(market, "120")
    clock.advance(minutes=25)  # nobody read the invoice: its quote was never re-quoted
    pay(app, number, "SOL", sol["reference"], sol["amount_base_units"], created + LOCKED_FOR + GRACE
        + timedelta(seconds=1), "tx-late-quote")
    state, payments, _ = facts(app, number)
    # 0.066666667 SOL at 120 is 8.00 USD of 10: counted as that, never as the 10 USD the stale quote said.
    assert state == "partially_paid" and payments == [(83_333_334, True)]  # 10 USD at 120
    (row,) = payment_rows(app, number)
    assert (row.valued_rate, row.valued_at, row.awaiting_rate) == (Decimal(120), clock.now(), False)
    assert event_data(app, number, "invoice.payment_to_lapsed_quote") == [{
        "overpaid": False, "paid_late": False, "tx_id": "tx-late-quote", "asset": "SOL", "amount": 66_666_667,
        "awaiting_rate": False, "rate": 120, "rated_at": "2026-01-15T12:25:00.000Z"}]
    body = status(app, key, number)  # this read re-quotes what is still due (2 USD at 120)
    assert options(body)["SOL"]["amount_remaining"] == Decimal("0.016666667")


def test_a_rise_makes_the_same_payment_worth_more_than_asked(live, clock, market) -> None:
    app, key = live
    made = create(app, key)
    sol = options(made)["SOL"]
    reprice(market, "165")
    clock.advance(minutes=30)
    pay(app, made["invoice_number"], "SOL", sol["reference"], sol["amount_base_units"], clock.now(), "tx-rise")
    state, payments, events = facts(app, made["invoice_number"])
    assert state == "paid" and payments == [(60_606_061, True)]  # 10 USD at 165: 11 USD arrived
    assert events[-3:] == ["invoice.payment_to_lapsed_quote", "invoice.overpaid", "invoice.paid"] or \
        events[-3:] == ["invoice.payment_to_lapsed_quote", "invoice.paid", "invoice.overpaid"]


def test_with_no_fresh_rate_it_is_recorded_flagged_and_valued_once_a_rate_returns(live, clock, market) -> None:
    app, key = live
    made = create(app, key)
    number, sol = made["invoice_number"], options(made)["SOL"]
    market.down.update(SOURCES)
    clock.advance(minutes=25)  # the cached 150 is far older than RATE_MAX_AGE_SECONDS: never used
    pay(app, number, "SOL", sol["reference"], sol["amount_base_units"], clock.now(), "tx-no-rate")
    state, payments, events = facts(app, number)
    assert state == "pending" and payments == [(None, True)]  # kept, flagged, not counted at a guess
    (row,) = payment_rows(app, number)
    assert row.awaiting_rate and row.valued_rate is None
    assert event_data(app, number, "invoice.payment_to_lapsed_quote")[0]["awaiting_rate"] is True
    assert status(app, key, number)["lifecycle_status"] == "pending"
    svc = app.extensions["voltbridge"]
    with app.app_context():
        assert value_awaiting(svc.uow, svc.quoting, svc.clock) == 0  # still no rate: it waits, nothing lost
    market.down.clear()
    reprice(market, "125")
    clock.advance(minutes=1)
    with app.app_context():
        refresh_rates(svc)  # the worker's rate job refreshes, then values what was waiting
        assert value_awaiting(svc.uow, svc.quoting, svc.clock) == 0  # once only
    state, payments, events = facts(app, number)
    assert state == "partially_paid" and payments == [(80_000_000, True)]  # 10 USD at 125; 8.33 USD arrived
    (row,) = payment_rows(app, number)
    assert (row.awaiting_rate, row.valued_rate, row.valued_at) == (False, Decimal(125), clock.now())
    assert events[-2:] == ["invoice.payment_valued", "invoice.partially_paid"]
    assert event_data(app, number, "invoice.payment_valued")[0]["rate"] == 125


def test_a_payment_to_a_replaced_quote_after_the_grace_is_valued_when_seen_not_at_the_requote(
        live, clock, market) -> None:
    app, key = live
    made = create(app, key)
    number, old = made["invoice_number"], options(made)["SOL"]
    reprice(market, "140")
    clock.advance(minutes=16)
    assert options(status(app, key, number))["SOL"]["rate"] == 140  # re-quoted at 140
    reprice(market, "130")
    clock.advance(minutes=10)
    pay(app, number, "SOL", old["reference"], old["amount_base_units"], clock.now(), "tx-old-ref")
    _, payments, _ = facts(app, number)
    assert payments == [(76_923_077, True)]  # 10 USD at 130, the rate when it was seen


def test_the_merchant_is_emailed_what_the_payment_counted_as_then_when_it_is_valued(live, clock, market) -> None:
    from gateway_core.adapters.jsonwire import loads
    from gateway_core.adapters.notify.email_render import render
    from tests.integration.notify_support import configure, deliveries

    app, key = live
    svc = app.extensions["voltbridge"]
    with app.app_context():
        configure(svc, app.config["TEST_STORE_ID"], email_notifications=True, notification_email="owner@shop.test")
    made = create(app, key)
    number, sol = made["invoice_number"], options(made)["SOL"]
    market.down.update(SOURCES)
    clock.advance(minutes=25)
    pay(app, number, "SOL", sol["reference"], sol["amount_base_units"], clock.now(), "tx-mail")
    market.down.clear()
    reprice(market, "125")
    with app.app_context():
        value_awaiting(svc.uow, svc.quoting, svc.clock)
        flagged, valued = (deliveries(svc, event_type=kind) for kind in ("payment_to_lapsed_quote", "payment_valued"))
    assert [d.channel for d in flagged + valued] == ["email", "email"]  # by email whatever the webhook list
    subject, text, _ = render("payment_to_lapsed_quote", loads(flagged[0].body), None)
    unfolded = " ".join(text.split())
    assert subject == f"[Sandbox] Payment to an expired quote: 0.066666667 SOL, invoice {number}"
    assert "does not count towards the invoice yet" in unfolded and "tx-mail" in unfolded
    subject, text, _ = render("payment_valued", loads(valued[0].body), None)
    assert subject == f"[Sandbox] Payment valued: 0.066666667 SOL, invoice {number}"
    assert "1 SOL = 125 USD" in " ".join(text.split())


def test_the_worker_watcher_values_it_through_the_rate_port(live, clock, market) -> None:
    """The same, end to end: the buyer pays the stale amount on the sandbox ledger, the worker's tick sees it."""
    from gateway_core.payments.sandbox import simulate_payment
    from tests.conftest import running_services, tick

    app, key = live
    number = create(app, key)["invoice_number"]
    reprice(market, "120")
    clock.advance(minutes=25)
    with running_services(app.extensions["voltbridge"].settings, clock) as worker:  # the worker process's wiring
        with worker.uow() as uow:
            simulate_payment(uow, number, clock, "SOL")  # 0.066666667 SOL, the lapsed quote's amount
        tick(worker)
    state, payments, events = facts(app, number)
    assert state == "partially_paid" and payments == [(83_333_334, True)]  # valued at 120 when seen
    assert "invoice.payment_to_lapsed_quote" in events
