"""The dashboard's view of a store's outbox: the delivery log with every filter, endpoint charts, secret rotation.

The VOLTXT API keeps its own shape (delivery_log.delivery_page); the dashboard also filters by event, endpoint
and date, and draws each endpoint's recent attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Delivery, DeliveryAttempt, WebhookEndpoint
from gateway_core.adapters.notify.signing import new_endpoint_secret
from gateway_core.domain.errors import GatewayError
from gateway_core.notifications.delivery_log import delivery_row

CHART_ATTEMPTS = 30  # the chart shows this many latest attempts per endpoint
PAGE_SIZE = 25
STATUSES = ("pending", "sending", "delivered", "dead")


class EndpointNotFound(GatewayError):
    code = "ENDPOINT_NOT_FOUND"


@dataclass(frozen=True)
class LogFilter:
    status: str | None = None
    event_type: str | None = None
    endpoint_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    before_id: int | None = None  # keyset: rows older than this delivery


def delivery_log(uow: UnitOfWork, store_id: int, wanted: LogFilter, size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of the store's deliveries, newest first, keyset-paged on the id; `next_before` pages on."""
    where = [Delivery.store_id == store_id]
    if wanted.status:
        where.append(Delivery.status == wanted.status)
    if wanted.event_type:
        where.append(Delivery.event_type == wanted.event_type)
    if wanted.endpoint_id is not None:
        where.append(Delivery.endpoint_id == wanted.endpoint_id)
    if wanted.since is not None:
        where.append(Delivery.created_at >= wanted.since)
    if wanted.until is not None:
        where.append(Delivery.created_at < wanted.until)
    if wanted.before_id is not None:
        where.append(Delivery.id < wanted.before_id)
    session = uow.session
    rows = session.execute(
        select(Delivery).where(*where).order_by(Delivery.id.desc()).limit(size + 1)).scalars().all()
    more = len(rows) > size
    rows = rows[:size]
    attempts: dict[int, list[DeliveryAttempt]] = {d.id: [] for d in rows}
    if rows:
        for attempt in session.execute(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(list(attempts)))
                .order_by(DeliveryAttempt.number)).scalars():
            attempts[attempt.delivery_id].append(attempt)
    event_types = session.execute(
        select(Delivery.event_type).where(Delivery.store_id == store_id).group_by(Delivery.event_type)
        .order_by(Delivery.event_type)).scalars().all()
    return {"deliveries": [delivery_row(d, attempts[d.id]) for d in rows],
            "next_before": rows[-1].id if more else None, "event_types": list(event_types)}


def store_delivery(uow: UnitOfWork, store_id: int, delivery_id: int) -> dict[str, Any] | None:
    """One of the store's deliveries with its attempts (a test send's outcome), or None."""
    delivery = uow.session.get(Delivery, delivery_id)
    if delivery is None or delivery.store_id != store_id:
        return None
    attempts = uow.session.execute(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                                   .order_by(DeliveryAttempt.number)).scalars().all()
    return delivery_row(delivery, list(attempts))


def recent_attempts(uow: UnitOfWork, store_id: int, per_endpoint: int = CHART_ATTEMPTS) -> dict[int, list[Any]]:
    """Each endpoint's latest attempts (ok, latency_ms), oldest first, for its chart."""
    ranked = select(
        DeliveryAttempt.endpoint_id, DeliveryAttempt.ok, DeliveryAttempt.latency_ms, DeliveryAttempt.id,
        func.row_number().over(partition_by=DeliveryAttempt.endpoint_id,
                               order_by=DeliveryAttempt.id.desc()).label("n"),
    ).join(WebhookEndpoint, WebhookEndpoint.id == DeliveryAttempt.endpoint_id).where(
        WebhookEndpoint.store_id == store_id).subquery()
    found: dict[int, list[Any]] = {}
    for row in uow.session.execute(
            select(ranked.c.endpoint_id, ranked.c.ok, ranked.c.latency_ms).where(ranked.c.n <= per_endpoint)
            .order_by(ranked.c.endpoint_id, ranked.c.id)):
        found.setdefault(row.endpoint_id, []).append((bool(row.ok), int(row.latency_ms)))
    return found


def rotate_endpoint_secret(uow: UnitOfWork, store_id: int, endpoint_id: int) -> WebhookEndpoint:
    """A new whsec_ signing secret for one of the store's endpoints; deliveries sent from now on use it."""
    endpoint = uow.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.store_id != store_id:
        raise EndpointNotFound("Endpoint not found")
    endpoint.secret = new_endpoint_secret()
    return endpoint
