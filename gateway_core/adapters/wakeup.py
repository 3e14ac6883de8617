"""Wake-up on committed changes (issue 23): whoever waits for one is woken at once instead of at its next poll;
polling stays as the safety net.

Two kinds: `changes` (a transaction added an Event or a Delivery: the delivery dispatcher, the payment page's
event stream) and `watching` (an invoice was opened or its asset picked: the Solana push reader, which
follows the open invoices' accounts, issue 21). In one process: a transaction that wrote one signals it
after it commits. Across processes on PostgreSQL: the same transaction sends NOTIFY on the kind's channel
(delivered by the server at commit), and each process that waits runs one LISTEN thread that turns
notifications into the local signals. The NOTIFY carries the sending process's name, and a relay skips its own
process's: that process was signalled at commit already, and a second wake-up a few milliseconds later only made
the dispatcher claim again and every open event stream read again, competing for the interpreter with the work
the first one started.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_FLAG = "voltbridge_wakeup_kinds"
_SENT = "voltbridge_wakeup_notified"


class Changes:
    """A generation counter: waiters note it, then wait until it moves on (or time out)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self.enabled = True

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def signal(self) -> None:
        """Something committed: wake every waiter."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wait(self, since: int, timeout: float) -> bool:
        """Until the generation passes `since` (True) or timeout seconds pass (False); sleeps the full timeout
        when wake-up is switched off (the benchmark's comparison)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.enabled or self._generation == since:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True


changes = Changes()
watching = Changes()
# Invoice columns whose change alters which chain accounts are subscribed at once. A closing is left out: its
# accounts are unsubscribed at the next tick (which follows the open invoices too), since waking the push reader
# for every settlement cost more than a late unsubscription.
_WATCHED_COLUMNS = ("chosen_asset",)


WHERE = "SELECT current_database() || '/' || current_schema()"
_where: dict[str, str] = {}
_BOOT = secrets.token_hex(4)  # with the pid: unique across hosts, and a forked child is not its parent


def sender() -> str:
    """This process's name in the NOTIFY payload."""
    return f"{os.getpid()}-{_BOOT}"


def channel_name(where: str, kind: str = "") -> str:
    """The NOTIFY channel of a database and schema (deployments and test runs sharing a server never mix);
    kind "" for status changes, "watch" for the watched invoices' set."""
    name = "voltbridge_" + hashlib.blake2b(where.encode(), digest_size=8).hexdigest()
    return f"{name}_{kind}" if kind else name


def _kinds(session: Session) -> set[str]:
    """What the flush wrote, by wake-up kind (the session's lists and histories still show it)."""
    from gateway_core.adapters.models import Delivery, Event, Invoice, Quote

    kinds = set()
    if any(isinstance(obj, Event | Delivery) for obj in session.new):
        kinds.add("")
    if any(isinstance(obj, Invoice | Quote) for obj in session.new) or any(
            isinstance(obj, Invoice) and any(inspect(obj).attrs[c].history.has_changes() for c in _WATCHED_COLUMNS)
            for obj in session.dirty):
        kinds.add("watch")
    return kinds


def _flushed(session: Session, _context: Any) -> None:
    """After a flush: flag the kinds of change it wrote (notified at commit)."""
    kinds = _kinds(session)
    if kinds:
        _flag(session, kinds)


def opened(session: Session, network: str) -> None:
    """An invoice on `network` was written with Core statements (invoices/insert.py), which no flush shows: flag the
    transaction so that its commit wakes the Solana push reader, as an ORM write would.

    Not on the sandbox, whose addresses no push follows: on PostgreSQL the flag costs the create a NOTIFY.
    """
    if network != "sandbox":
        _flag(session, {"watch"})


def _flag(session: Session, kinds: set[str]) -> None:
    flagged: set[str] = session.info.setdefault(_FLAG, set())
    flagged |= kinds
    sent: set[str] = session.info.setdefault(_SENT, set())
    new = kinds - sent
    if not new:  # no connection lookup on every flush once the transaction's NOTIFY is sent
        return
    nested = session.in_nested_transaction()
    connection = session.connection()
    if connection.dialect.name == "postgresql":  # NOTIFY is transactional: delivered at commit, never on rollback
        key = str(connection.engine.url)
        if key not in _where:
            _where[key] = str(connection.execute(text(WHERE)).scalar_one())
        for kind in sorted(new):
            connection.execute(text("SELECT pg_notify(:channel, :sender)"),
                               {"channel": channel_name(_where[key], kind), "sender": sender()})
    # One NOTIFY per kind and transaction is enough, unless it was sent in a savepoint, which may yet roll back
    # (the server delivers one of identical notifications of a transaction).
    if not nested:
        sent |= new


def _committed(session: Session) -> None:
    # SQLAlchemy reports a savepoint's release as a commit too: nothing is visible to others until the
    # outermost transaction commits, so a waiter woken then would read too early and sleep through the change.
    if session.in_nested_transaction():
        return
    session.info.pop(_SENT, None)
    for kind in session.info.pop(_FLAG, ()):
        (watching if kind == "watch" else changes).signal()


def _discard(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's rollback leaves what the transaction wrote before it
        session.info.pop(_FLAG, None)
        session.info.pop(_SENT, None)


_installed = threading.Lock()
_done: list[bool] = []


def install() -> None:
    """Hook every SQLAlchemy session of this process (once)."""
    with _installed:
        if _done:
            return
        event.listen(Session, "after_flush", _flushed)
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _discard)
        _done.append(True)


_listeners: dict[str, threading.Thread] = {}


def listen(database_url: str) -> None:
    """On PostgreSQL, relay this database's notifications to `changes` from a daemon thread (once per URL)."""
    if not database_url.startswith(("postgres://", "postgresql")):
        return
    with _installed:
        if database_url in _listeners and _listeners[database_url].is_alive():
            return
        thread = threading.Thread(target=_relay, args=(database_url,), name="status-listen", daemon=True)
        _listeners[database_url] = thread
        thread.start()


def _relay(database_url: str) -> None:
    import psycopg

    from gateway_core.adapters.db import name_sessions

    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    while True:
        params: dict[str, Any] = {}
        if "application_name=" not in url:
            name_sessions(params)
        try:
            with psycopg.connect(url, autocommit=True, **params) as connection:
                row = connection.execute(WHERE).fetchone()
                where = str(row[0] if row else "")
                watch = channel_name(where, "watch")
                connection.execute(f"LISTEN {channel_name(where)}")
                connection.execute(f"LISTEN {watch}")
                changes.signal()  # anything committed while we were not listening: look now
                watching.signal()
                for notify in connection.notifies():
                    if notify.payload != sender():  # our own commits signalled us already
                        (watching if notify.channel == watch else changes).signal()
        except Exception as exc:  # the safety net polls meanwhile; reconnect after a pause
            log.warning("status listener lost its connection", extra={"error": type(exc).__name__})
            time.sleep(1.0)
