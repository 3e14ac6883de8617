"""Push follows the open invoices (issue 21 point 2): accounts subscribed at creation and at the buyer's pick,
woken by the commit and never by a tick, and unsubscribed after closing at the next tick or refresh; only the
worker holding the Solana watcher's job family subscribes, and a standby takes over; the subscription budget in
the logs and /metrics."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from gateway_core import telemetry
from gateway_core.adapters import wakeup
from gateway_core.adapters.chains.solana import SolanaChain
from gateway_core.adapters.db import normalise_url
from gateway_core.adapters.job_locks import JobLocks
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.payments.push_reader import PushReader
from gateway_core.worker import expire_invoices, publish_status, watch_chains
from tests.conftest import running_services
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.fakes.solana_ws import FakeSolanaPubSub
from tests.solana_fixtures import create_invoice, make_store, option, status

WAIT = 10.0  # bounded waits on conditions: generous, since the machine is shared
NEVER = 3600.0  # the follower's periodic refresh, out of the way: only the commit's wake-up moves it


@pytest.fixture
def pubsub(fake_rpc: FakeSolanaRpc) -> Iterator[FakeSolanaPubSub]:
    with FakeSolanaPubSub(fake_rpc) as server:
        yield server


def push_settings(sol_settings: Settings, pubsub: FakeSolanaPubSub, **changes: object) -> Settings:
    return dataclasses.replace(sol_settings, solana_ws_url_devnet=pubsub.url, solana_ws_url_mainnet=pubsub.url,
                               **changes)  # type: ignore[arg-type]


def chain_of(svc: Services) -> SolanaChain:
    chain = svc.chains["solana"]
    assert isinstance(chain, SolanaChain) and chain.push is not None
    chain.push.backoff, chain.push.max_backoff = 0.05, 0.2
    return chain


@pytest.fixture
def worker(sol_settings: Settings, pubsub: FakeSolanaPubSub, clock: FrozenClock) -> Iterator[Services]:
    with running_services(push_settings(sol_settings, pubsub), clock) as svc:
        yield svc


@pytest.fixture
def reader(worker: Services) -> Iterator[PushReader]:
    """The worker's push reader alone: no scheduler, no tick (the clock is frozen, the net refresh hours away)."""
    locks = JobLocks(worker.settings.database_url)  # on SQLite it holds every family
    running = PushReader(worker.uow, chain_of(worker), worker.clock, worker.quoting, worker.late_window,
                         holds=locks.holds, refresh_every=NEVER)
    running.start()
    yield running
    running.stop()
    locks.close()


def until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Wait for a condition that a committed status change makes true (re-checked at each wake-up)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = wakeup.changes.generation()
        if condition():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        wakeup.changes.wait(seen, min(remaining, 0.5))


def live(svc: Services, *accounts: str) -> Callable[[], bool]:
    push = chain_of(svc).push
    assert push is not None
    return lambda: all(push.live("devnet", a) for a in accounts)


def test_an_invoice_created_after_the_reader_connected_is_paid_by_push_before_any_tick(
        worker, reader, sol_client, fake_rpc, pubsub, buyer) -> None:
    push = chain_of(worker).push
    assert push is not None
    key, wallet = make_store(worker)
    create_invoice(sol_client, key)
    assert push.wait_for(live(worker, wallet), WAIT), push.stats()  # the reader is connected
    other_key, other_wallet = make_store(worker)
    invoice = create_invoice(sol_client, other_key)  # its commit wakes the follower: no tick, no request wait
    assert push.wait_for(live(worker, other_wallet), WAIT), push.stats()
    assert pubsub.connections == 1  # on the socket already open
    sol = option(invoice, "SOL")
    signature = buyer.pay_sol(other_wallet, sol["amount_base_units"], sol["reference"])
    assert until(lambda: status(sol_client, other_key, invoice["invoice_number"])["lifecycle_status"] == "paid")
    # The notification went out (it, or the new subscription's catch-up read if that ran after the payment
    # landed, had the account read: either way push, with no tick).
    assert push.wait_for(lambda: pubsub.notified["account"] >= 1, WAIT) and signature in pubsub.confirmed_at


@pytest.mark.parametrize("by", ["tick", "refresh"])
def test_closing_an_invoice_unsubscribes_its_accounts_and_the_socket_closes_when_none_is_left(
        worker, reader, sol_client, pubsub, clock, fee_payer, by) -> None:
    push = chain_of(worker).push
    assert push is not None
    key, _ = make_store(worker, mode="deposit", assets=("SOL",))
    invoice = create_invoice(sol_client, key, amount="10.00")
    owner = option(invoice, "SOL")["address"]
    assert push.wait_for(live(worker, owner), WAIT), push.stats()
    clock.advance(hours=25)
    expire_invoices(worker)  # the expiry job closes it
    assert push.live("devnet", owner)  # a closing wakes nobody: ...
    if by == "tick":
        watch_chains(worker)  # ... the next tick follows the open invoices
    else:
        reader.refresh()  # ... or the follower's next periodic refresh
    assert push.wait_for(lambda: owner not in pubsub.subscribed() and not push.stats()["devnet"]["connected"],
                         WAIT), push.stats()
    assert push.stats()["devnet"]["wanted"] == 0 and reader.following == {"devnet"}  # still watched for late pay


def test_the_buyers_pick_moves_the_unpicked_asset_behind_the_budget(
        sol_settings, pubsub, clock, sol_client, fake_rpc, fee_payer) -> None:
    with running_services(push_settings(sol_settings, pubsub, solana_ws_max_subscriptions=3), clock) as svc:
        locks = JobLocks(svc.settings.database_url)
        running = PushReader(svc.uow, chain_of(svc), svc.clock, svc.quoting, svc.late_window, holds=locks.holds,
                             refresh_every=NEVER)
        running.start()
        try:
            push = chain_of(svc).push
            assert push is not None
            key, _ = make_store(svc, mode="deposit")
            old = create_invoice(sol_client, key, amount="10.00")
            clock.advance(seconds=5)
            new = create_invoice(sol_client, key, amount="10.00", external_invoice_id="order_2")
            mint = chain_of(svc).usdc_mints["devnet"]
            new_owner, old_owner = option(new, "SOL")["address"], option(old, "SOL")["address"]
            new_token, old_token = (chain_of(svc).token_account(o, mint) for o in (new_owner, old_owner))
            # Newest invoice first: both of its accounts, then one of the older invoice's.
            assert push.wait_for(live(svc, new_owner, new_token), WAIT), push.stats()
            assert push.wait_for(lambda: push.stats()["devnet"]["subscribed"] == 3, WAIT), push.stats()
            assert push.stats()["devnet"]["polled"] == 1
            response = sol_client.post(f"/pay/{new['invoice_number']}/asset", json={"asset": "SOL"})
            assert response.status_code == 200, response.get_json()
            # The pick commits and wakes the follower: the USDC account nobody will pay goes behind the budget.
            assert push.wait_for(lambda: live(svc, new_owner, old_owner, old_token)()
                                 and new_token not in pubsub.subscribed(), WAIT), push.stats()
        finally:
            running.stop()
            locks.close()


def test_beyond_the_budget_the_count_and_the_fallback_are_logged_and_in_metrics(
        sol_settings, pubsub, clock, sol_client, fake_rpc, fee_payer, caplog) -> None:
    with running_services(push_settings(sol_settings, pubsub, solana_ws_max_subscriptions=2), clock) as svc:
        running = PushReader(svc.uow, chain_of(svc), svc.clock, svc.quoting, svc.late_window, refresh_every=NEVER)
        try:
            key, _ = make_store(svc, mode="deposit", assets=("SOL",))
            old = create_invoice(sol_client, key, amount="10.00")
            clock.advance(seconds=5)
            new = create_invoice(sol_client, key, amount="10.00", external_invoice_id="order_2")
            with caplog.at_level(logging.INFO, logger="gateway_core.adapters.chains.solana_push"):
                running.start()
                push = chain_of(svc).push
                assert push is not None

                def gauges() -> tuple[Any, Any]:
                    figures = telemetry.snapshot()
                    labels = (("network", "devnet"),)
                    return (figures.get(("solana_ws_subscriptions", labels)),
                            figures.get(("solana_ws_fallback_accounts", labels)))

                def logged() -> bool:  # the gauges may be set a moment before the log lines are written
                    messages = [r.getMessage() for r in caplog.records]
                    return any("over budget" in m for m in messages) and "solana subscriptions" in messages

                assert push.wait_for(lambda: gauges() == (2, 2) and logged(), WAIT), (gauges(), push.stats())
            new_owner, old_owner = option(new, "SOL")["address"], option(old, "SOL")["address"]
            assert push.live("devnet", new_owner) and not push.live("devnet", old_owner)  # the older falls back
            over = [r for r in caplog.records if "over budget" in r.getMessage()]
            assert over and over[-1].levelno == logging.WARNING
            assert (over[-1].subscribed, over[-1].polled, over[-1].max_subscriptions) == (2, 2, 2)  # type: ignore
            counted = [r for r in caplog.records if r.getMessage() == "solana subscriptions"]
            assert counted and (counted[-1].subscribed, counted[-1].polled) == (2, 2)  # type: ignore[attr-defined]
            publish_status(svc, "host:push")
            scraped = sol_client.get("/metrics")
            assert scraped.status_code == 200
            samples = {(s.name, s.labels.get("network"), s.labels.get("worker")): s.value
                       for family in text_string_to_metric_families(scraped.get_data(as_text=True))
                       for s in family.samples}
            assert samples[("voltbridge_solana_ws_subscriptions", "devnet", "host:push")] == 2
            assert samples[("voltbridge_solana_ws_fallback_accounts", "devnet", "host:push")] == 2
        finally:
            running.stop()


def _postgres(settings: Settings) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL (on SQLite there is one worker, holding every family)")


def test_only_the_holder_of_the_watch_family_subscribes_and_a_standby_takes_over(
        sol_settings, pubsub, clock, sol_client, fake_rpc, buyer) -> None:
    _postgres(sol_settings)
    settings = push_settings(sol_settings, pubsub)
    admin = sa.create_engine(normalise_url(settings.database_url))
    with running_services(settings, clock) as one, running_services(settings, clock) as two:
        first, second = JobLocks(settings.database_url), JobLocks(settings.database_url)
        # The standby looks for a free family often, as a worker does every tick (here every 0.1 s).
        holder = PushReader(one.uow, chain_of(one), clock, one.quoting, one.late_window, holds=first.holds,
                            refresh_every=0.1)
        standby = PushReader(two.uow, chain_of(two), clock, two.quoting, two.late_window, holds=second.holds,
                             refresh_every=0.1)
        try:
            key, wallet = make_store(one)
            first_invoice = create_invoice(sol_client, key)
            holder.start()
            assert chain_of(one).push.wait_for(live(one, wallet), WAIT)  # type: ignore[union-attr]
            standby.start()
            refreshed = standby.refreshes
            assert until(lambda: standby.refreshes > refreshed + 1)
            # One socket, one subscription per account: the standby follows nothing and opened nothing.
            assert standby.following == frozenset() and holder.following == {"devnet"}
            assert pubsub.connections == 1 and not chain_of(two).push.stats()["devnet"]["connected"]  # type: ignore
            assert sorted(k for _, _, k in pubsub.subscriptions.values()).count(wallet) == 1

            # The holder dies: its threads and socket end, and its lock session with them (as the server ends
            # the session of a killed process).
            pid = first.backend_pid()
            holder.stop()
            with admin.connect() as connection:
                connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            push_two = chain_of(two).push
            assert push_two is not None
            assert push_two.wait_for(live(two, wallet), WAIT), push_two.stats()
            assert not chain_of(one).push.stats()["devnet"]["connected"]  # type: ignore[union-attr]
            assert standby.following == {"devnet"}
            assert len({ws for ws, _, _ in pubsub.subscriptions.values()}) == 1  # only the new holder's socket
            sol = option(first_invoice, "SOL")
            buyer.pay_sol(wallet, sol["amount_base_units"], sol["reference"])
            assert until(lambda: status(sol_client, key, first_invoice["invoice_number"])["lifecycle_status"]
                         == "paid")
        finally:
            holder.stop()
            standby.stop()
            first.close()
            second.close()
    admin.dispose()
