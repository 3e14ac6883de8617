"""Committed status changes wake their waiters (issue 23 point 2): in-process signal, PostgreSQL NOTIFY."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import sqlalchemy as sa

from gateway_core.adapters import wakeup
from gateway_core.adapters.db import normalise_url
from gateway_core.bootstrap import Services
from gateway_core.stores.manage import NewStore
from gateway_core.worker import PumpTrigger
from tests.conftest import invoice_body, post_json, tick


def _paid_invoice(client: Any, store: NewStore) -> None:
    created = post_json(client, "/api/plugin/invoice/create", invoice_body(store.api_key))
    number = created.get_json()["invoice_number"]
    assert post_json(client, f"/pay/{number}/simulate", {"asset": "SOL"}).status_code == 201


def test_a_committed_status_change_signals_this_process(client: Any, store: NewStore, services: Services) -> None:
    _paid_invoice(client, store)
    seen = wakeup.changes.generation()
    assert not wakeup.changes.wait(seen, timeout=0)
    tick(services)  # the watcher records the payment: paid, confirmed, settled
    assert wakeup.changes.wait(seen, timeout=0)


def test_a_rolled_back_change_signals_nothing(services: Services, store: NewStore) -> None:
    from gateway_core.adapters.models import Delivery

    seen = wakeup.changes.generation()
    session = services.sessions()
    session.add(Delivery(store_id=store.id, event_id="evt_rolled_back", event_type="test", channel="store",
                         body="{}", next_attempt_at=services.clock.now()))
    session.flush()
    session.rollback()
    session.close()
    assert not wakeup.changes.wait(seen, timeout=0)


def test_a_savepoint_released_mid_transaction_is_not_the_commit(services: Services, store: NewStore) -> None:
    """SQLAlchemy reports a savepoint's release as a commit: waiters woken then read before the change is visible
    (the first delivery to a new callback URL makes one, mid-transaction)."""
    from gateway_core.adapters.models import Delivery

    seen = wakeup.changes.generation()
    session = services.sessions()
    session.add(Delivery(store_id=store.id, event_id="evt_savepoint", event_type="test", channel="store",
                         body="{}", next_attempt_at=services.clock.now()))
    session.flush()
    with session.begin_nested():
        session.add(Delivery(store_id=store.id, event_id="evt_savepoint_2", event_type="test", channel="store",
                             body="{}", next_attempt_at=services.clock.now()))
    assert not wakeup.changes.wait(seen, timeout=0)  # released, not committed
    session.commit()
    session.close()
    assert wakeup.changes.wait(seen, timeout=0)


def test_on_postgresql_the_commit_notifies_other_processes(client: Any, store: NewStore, services: Services) -> None:
    url = services.settings.database_url
    if not url.startswith("postgresql"):
        return  # SQLite has one process (embedded): the in-process signal above is its whole story
    _paid_invoice(client, store)
    with psycopg.connect(url, autocommit=True) as listener:  # another process's listening connection
        where = listener.execute(wakeup.WHERE).fetchone()
        assert where is not None
        listener.execute(f"LISTEN {wakeup.channel_name(str(where[0]))}")
        tick(services)
        received = list(listener.notifies(timeout=10, stop_after=1))
    assert len(received) == 1
    assert received[0].payload == wakeup.sender()  # the relay of this very process skips it: signalled at commit


def test_the_relay_thread_turns_notifications_into_the_local_signal(services: Services) -> None:
    url = services.settings.database_url
    if not url.startswith("postgresql"):
        return
    wakeup.listen(url)  # idempotent: the relay may be running already for this database
    engine = sa.create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    woken = False
    with engine.connect() as connection:
        channel = wakeup.channel_name(str(connection.execute(sa.text(wakeup.WHERE)).scalar_one()))
        deadline = time.monotonic() + 10
        while not woken and time.monotonic() < deadline:  # until the relay listens and relays a notification
            seen = wakeup.changes.generation()
            connection.execute(sa.text(f"NOTIFY {channel}"))
            woken = wakeup.changes.wait(seen, timeout=0.5)
        assert woken
        # The relay skips this process's own notifications (its commits signalled it already), not others'.
        # A listener gets them in commit order: once the two others' ones are relayed, ours, sent between them,
        # has been read too.
        seen = wakeup.changes.generation()
        for sender in ("another-process", wakeup.sender(), "yet-another-process"):
            connection.execute(sa.text("SELECT pg_notify(:c, :s)"), {"c": channel, "s": sender})
        deadline = time.monotonic() + 10
        while wakeup.changes.generation() < seen + 2 and time.monotonic() < deadline:
            wakeup.changes.wait(wakeup.changes.generation(), timeout=0.5)
        assert wakeup.changes.generation() == seen + 2
    engine.dispose()


def test_a_wake_up_during_a_pump_makes_it_go_round_again() -> None:
    runs: list[int] = []
    trigger: PumpTrigger

    def pump() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            other = threading.Thread(target=trigger.run)  # a wake-up while this pump runs: it cannot start one
            other.start()
            other.join()

    trigger = PumpTrigger(pump)
    trigger.run()
    assert runs == [0, 1]
