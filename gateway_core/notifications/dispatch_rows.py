"""The dispatcher's SQL: claim due deliveries in one statement, record a batch of attempts in a few.

The worker's throughput on PostgreSQL is bounded by round trips more than by the database: each one waits for
the server and then for the GIL, behind the sender threads. So a claim is one UPDATE ... RETURNING whose subquery
picks the rows (FOR UPDATE SKIP LOCKED on PostgreSQL: competing workers skip each other's rows instead of
queueing on them; SQLite has one writer at a time anyway), and a batch of outcomes is one locked read, one
INSERT of the attempts and one executemany UPDATE. Id lists go to PostgreSQL as one array parameter, so the
statement text never changes and the server keeps it prepared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ARRAY, Integer, Table, and_, any_, bindparam, exists, insert, or_, select, union_all, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gateway_core.adapters.models import Delivery, DeliveryAttempt, Store, WebhookEndpoint
from gateway_core.domain.delivery import next_retry
from gateway_core.ports import HttpResult

EXCERPT_CHARS = 500
DELIVERIES = cast(Table, Delivery.__table__)
ATTEMPTS = cast(Table, DeliveryAttempt.__table__)
_EARLIER = DELIVERIES.alias("earlier")  # one alias for the process: a fresh one per claim defeats the statement cache
_UNSETTLED = ("pending", "sending")


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(column: Any, ids: Iterable[int], postgres: bool) -> ColumnElement[bool]:
    """column IN ids: one array parameter on PostgreSQL (a fixed statement text), an IN list elsewhere."""
    values = list(ids)
    if postgres:
        return column == any_(bindparam(None, values, type_=ARRAY(Integer)))
    return column.in_(values)


def due(now: datetime) -> ColumnElement[bool]:
    """Pending and due, or claimed by a worker whose lease ran out (it died mid-send)."""
    d = DELIVERIES.c
    return or_(and_(d.status == "pending", d.next_attempt_at <= now),
               and_(d.status == "sending", d.claimed_until < now))


def claim(session: Session, *, now: datetime, token: str, lease: timedelta, limit: int,
          skip_endpoints: Sequence[int] = (), skip_mail: bool = False) -> list[Row[Any]]:
    """Mark up to `limit` due deliveries as claimed by `token`, oldest first, and return what sending needs.

    Per endpoint, one invoice's events go out in order: a storefront that sees payment_completed before
    payment_received would move the order back, so a later event is not due while an earlier one is unsettled.
    Deliveries of the skipped endpoints (those at their cap) and, with skip_mail, emails are left alone.
    """
    postgres = is_postgres(session)
    d = DELIVERIES.c
    earlier = _EARLIER.c
    filters: list[ColumnElement[bool]] = [~exists().where(
        earlier.endpoint_id == d.endpoint_id, earlier.invoice_number == d.invoice_number, earlier.id < d.id,
        earlier.status.in_(_UNSETTLED))]
    if skip_endpoints:
        filters.append(or_(d.endpoint_id.is_(None), ~among(d.endpoint_id, skip_endpoints, postgres)))
    if skip_mail:
        filters.append(d.endpoint_id.is_not(None))
    # Two index range scans on (status, next_attempt_at) rather than one OR, so the cost of a claim does not grow
    # with the backlog. Leases that ran out come first: they are the oldest work.
    expired = select(d.id).where(d.status == "sending", d.claimed_until < now, *filters).limit(limit)
    pending = (select(d.id).where(d.status == "pending", d.next_attempt_at <= now, *filters)
               .order_by(d.status, d.next_attempt_at).limit(limit))
    if postgres:
        expired, pending = expired.with_for_update(skip_locked=True), pending.with_for_update(skip_locked=True)
    first, then = expired.subquery(), pending.subquery()
    candidates = union_all(select(first.c.id), select(then.c.id)).subquery()
    # Evaluated once, as a CTE. In an IN (subquery) PostgreSQL may rescan the subquery for every row the UPDATE
    # visits; each rescan skips the rows this very statement just locked and updated, and takes the next ones,
    # past the LIMIT.
    picked = select(candidates.c.id).limit(limit).cte("claimable")
    if postgres:
        picked = picked.prefix_with("MATERIALIZED")
    endpoints, stores = cast(Table, WebhookEndpoint.__table__).c, cast(Table, Store.__table__).c
    statement = (
        update(DELIVERIES)
        .where(d.id.in_(select(picked.c.id)), due(now))
        .values(status="sending", claimed_by=token, claimed_until=now + lease, updated_at=now)
        .returning(d.id, d.channel, d.endpoint_id, d.recipient, d.body, d.headers, d.event_id, d.event_type,
                   d.is_redelivery, d.store_id, d.next_attempt_at,
                   select(endpoints.url).where(endpoints.id == d.endpoint_id).scalar_subquery().label("url"),
                   select(endpoints.secret).where(endpoints.id == d.endpoint_id).scalar_subquery().label("secret"),
                   select(stores.name).where(stores.id == d.store_id).scalar_subquery().label("store_name"),
                   select(stores.brand_color).where(stores.id == d.store_id).scalar_subquery().label("brand_color"),
                   select(stores.language).where(stores.id == d.store_id).scalar_subquery().label("language"))
    )
    rows = list(session.execute(statement))
    rows.sort(key=lambda r: (r.next_attempt_at, r.id))  # RETURNING has no order
    return rows


def any_due(session: Session, now: datetime) -> bool:
    """Whether anything at all is due (used when a claim came back empty with some endpoints skipped)."""
    return session.execute(select(DELIVERIES.c.id).where(due(now)).limit(1)).first() is not None


@dataclass(frozen=True)
class Attempt:
    """One finished try of a claimed delivery, as its sender thread saw it."""

    delivery_id: int
    token: str
    started_at: datetime
    result: HttpResult


@dataclass(frozen=True)
class Recorded:
    """What recording a batch found: deliveries dead-lettered now, and those delivered."""

    dead: list[int]
    delivered: set[int]


_UPDATE = (
    update(DELIVERIES).where(DELIVERIES.c.id == bindparam("b_id"))
    .values(attempts=bindparam("b_attempts"), first_attempt_at=bindparam("b_first_attempt_at"),
            last_status_code=bindparam("b_last_status_code"), last_error=bindparam("b_last_error"),
            status=bindparam("b_status"), delivered_at=bindparam("b_delivered_at"),
            next_attempt_at=bindparam("b_next_attempt_at"), dead_at=bindparam("b_dead_at"),
            claimed_by=bindparam("b_claimed_by"), claimed_until=bindparam("b_claimed_until"),
            updated_at=bindparam("b_updated_at"))
)
_STATE = ("attempts", "first_attempt_at", "last_status_code", "last_error", "status", "delivered_at",
          "next_attempt_at", "dead_at", "claimed_by", "claimed_until")


def record(session: Session, tries: Sequence[Attempt], now: datetime) -> Recorded:
    """Every attempt on record, and what each means for its delivery: done, retry later, or dead-lettered."""
    d = DELIVERIES.c
    ids = sorted({t.delivery_id for t in tries})
    # Locked in id order (two recorders never deadlock), so a worker re-claiming an expired lease waits for us.
    states = {row.id: dict(row._mapping) for row in session.execute(
        select(d.id, d.endpoint_id, *(d[name] for name in _STATE))
        .where(among(d.id, ids, is_postgres(session))).order_by(d.id).with_for_update())}
    attempts: list[dict[str, Any]] = []
    dead: list[int] = []
    delivered: set[int] = set()
    for tried in tries:
        state = states.get(tried.delivery_id)
        if state is None:
            continue
        result = tried.result
        state["attempts"] += 1
        attempts.append({
            "delivery_id": tried.delivery_id, "endpoint_id": state["endpoint_id"], "number": state["attempts"],
            "started_at": tried.started_at, "status_code": result.status,
            "latency_ms": round(result.latency * 1000), "ok": result.ok, "error": result.error,
            "response_excerpt": result.body[:EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS] or None})
        first = state["first_attempt_at"] = state["first_attempt_at"] or tried.started_at
        state["last_status_code"], state["last_error"] = result.status, result.error
        if result.ok:
            if state["status"] != "delivered":
                state["status"], state["delivered_at"] = "delivered", now
            state["claimed_by"] = state["claimed_until"] = None
            delivered.add(tried.delivery_id)
            continue
        if state["claimed_by"] != tried.token or state["status"] != "sending":
            continue  # our lease ran out and someone else owns it now; the attempt is still on record
        delay = next_retry(state["attempts"], now - first)
        state["claimed_by"] = state["claimed_until"] = None
        if delay is None:
            state["status"], state["dead_at"] = "dead", now
            dead.append(tried.delivery_id)
        else:
            state["status"], state["next_attempt_at"] = "pending", now + delay
    if attempts:
        session.execute(insert(ATTEMPTS), attempts)
        session.execute(_UPDATE, [{"b_id": i, "b_updated_at": now, **{f"b_{k}": s[k] for k in _STATE}}
                                  for i, s in states.items()])
    return Recorded(dead, delivered)
