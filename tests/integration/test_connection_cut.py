"""A PostgreSQL session cut (pg_terminate_backend) in the middle of one item of a watcher job: the item is tried
again at once on a fresh connection, not parked for its 30 s backoff as if the item were at fault (issue 23,
found by tests/e2e/test_fault_pg_cuts.py). The cut is real: the test's own connection terminates the session
the job's statement is about to run on.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event, func, select

from gateway_core.adapters.db import again_if_connection_lost, connection_lost, make_engine, normalise_url
from gateway_core.adapters.models import Event, Invoice, ParkedItem, Payment
from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import InvoiceRequest
from gateway_core.payments.expiry import expire_due
from gateway_core.payments.sandbox import simulate_payment
from gateway_core.stores.manage import NewStore, find_store
from tests.conftest import tick

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_services(services: Services) -> Services:
    if services.settings.database_url.startswith("sqlite"):
        pytest.skip("a session to terminate is PostgreSQL's")
    return services


class CutOnce:
    """Terminates the session a statement starting with `prefix` is about to run on, the first time only."""

    def __init__(self, svc: Services, prefix: str) -> None:
        assert svc.engine is not None
        self.engine, self.prefix, self.cuts = svc.engine, prefix, 0
        self.admin = sa.create_engine(normalise_url(svc.settings.database_url), poolclass=sa.pool.NullPool)
        event.listen(self.engine, "before_cursor_execute", self._before)

    def _before(self, connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.cuts or not statement.lstrip().upper().startswith(self.prefix):
            return
        self.cuts += 1
        pid = connection.connection.dbapi_connection.info.backend_pid
        with self.admin.connect() as admin:
            # Waits (up to 5 s) until the session has ended, so the statement meets a dead connection.
            assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        self.admin.dispose()


@pytest.fixture
def cut(pg_services: Services) -> Iterator[Any]:
    made: list[CutOnce] = []

    def arm(prefix: str) -> CutOnce:
        made.append(CutOnce(pg_services, prefix))
        return made[-1]

    yield arm
    for cutter in made:
        cutter.close()


def _invoice(svc: Services, store: NewStore, external_id: str) -> str:
    with svc.uow() as uow:
        request = InvoiceRequest(amount=Decimal(30), external_id=external_id)
        return create_invoice(uow, find_store(uow, store.id), request, svc.invoicing).view.number


def _counts(svc: Services, number: str) -> tuple[str, int, int, Counter[str]]:
    with svc.uow() as uow:
        s = uow.session
        invoice = s.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        payments = s.execute(select(func.count()).select_from(Payment).where(Payment.invoice_id == invoice.id)
                             ).scalar_one()
        parked = s.execute(select(func.count()).select_from(ParkedItem)).scalar_one()
        events = Counter(s.execute(select(Event.type).where(Event.invoice_id == invoice.id)).scalars())
    return invoice.status, payments, parked, events


def test_a_payment_whose_session_is_cut_mid_record_is_recorded_in_the_same_tick(
        pg_services: Services, store: NewStore, cut: Any) -> None:
    number = _invoice(pg_services, store, "cut-record")
    with pg_services.uow() as uow:
        simulate_payment(uow, number, pg_services.clock)
    cutter = cut("INSERT INTO PAYMENTS")

    tick(pg_services)

    status, payments, parked, events = _counts(pg_services, number)
    assert cutter.cuts == 1
    assert (status, payments, parked) == ("settled", 1, 0)  # sandbox finality is immediate
    assert set(events.values()) == {1}, events  # the rolled-back attempt left nothing behind


def test_an_invoice_whose_session_is_cut_at_expiry_is_closed_in_the_same_run(
        pg_services: Services, store: NewStore, cut: Any, clock: FrozenClock) -> None:
    number = _invoice(pg_services, store, "cut-expiry")
    clock.advance(days=3)
    cutter = cut("UPDATE INVOICES")

    assert expire_due(pg_services.uow, pg_services.clock) == 1

    status, _, parked, events = _counts(pg_services, number)
    assert cutter.cuts == 1
    assert (status, parked) == ("expired", 0)
    assert events["invoice.expired"] == 1


def test_only_a_lost_connection_is_tried_again(pg_services: Services) -> None:
    calls: list[int] = []

    def fails() -> None:
        calls.append(1)
        with pg_services.uow() as uow:
            uow.session.execute(sa.text("SELECT 1/0"))

    with pytest.raises(sa.exc.DBAPIError) as raised:
        again_if_connection_lost(fails)
    assert not connection_lost(raised.value) and len(calls) == 1  # the work's own error: raised at once


def test_sessions_are_named_after_their_process(pg_services: Services) -> None:
    """application_name voltbridge[-<role>]:<pid>, unless the URL names them (operators find a process by it)."""
    url = pg_services.settings.database_url
    engine = make_engine(url)
    named = make_engine(url + ("&" if "?" in url else "?") + "application_name=mine")
    try:
        with engine.connect() as connection, named.connect() as other:
            assert re.fullmatch(rf"voltbridge(-\w+)?:{os.getpid()}",
                                connection.execute(sa.text("SHOW application_name")).scalar_one())
            assert other.execute(sa.text("SHOW application_name")).scalar_one() == "mine"
    finally:
        engine.dispose()
        named.dispose()
