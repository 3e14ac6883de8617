"""What the merchant sees of the outbox: per-endpoint statistics and the delivery log, from the attempt rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Delivery, DeliveryAttempt, Store, WebhookEndpoint
from gateway_core.domain import fields
from gateway_core.domain.delivery import health, percentile
from gateway_core.domain.errors import ValidationFailed

RECENT_ATTEMPTS = 100  # health and response times look at this many latest attempts per endpoint
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # (page - 1) * per_page stays an offset every database takes


def endpoint_stats(uow: UnitOfWork, store: Store) -> list[dict[str, Any]]:
    """Per endpoint: delivery counts, success rate, p50/p95 response time, last success/failure, health."""
    session = uow.session
    endpoints = session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.store_id == store.id).order_by(WebhookEndpoint.id)
    ).scalars().all()
    stats = []
    for endpoint in endpoints:
        by_status = dict(session.execute(
            select(Delivery.status, func.count()).where(Delivery.endpoint_id == endpoint.id).group_by(Delivery.status)
        ).all())
        totals = session.execute(
            select(func.count(), func.count().filter(DeliveryAttempt.ok.is_(True)),
                   func.max(DeliveryAttempt.started_at).filter(DeliveryAttempt.ok.is_(True)),
                   func.max(DeliveryAttempt.started_at).filter(DeliveryAttempt.ok.is_(False)))
            .where(DeliveryAttempt.endpoint_id == endpoint.id)
        ).one()
        recent = session.execute(
            select(DeliveryAttempt.ok, DeliveryAttempt.latency_ms).where(DeliveryAttempt.endpoint_id == endpoint.id)
            .order_by(DeliveryAttempt.id.desc()).limit(RECENT_ATTEMPTS)
        ).all()[::-1]
        attempts, successes = int(totals[0]), int(totals[1])
        latencies = [row.latency_ms for row in recent]
        stats.append({
            "endpoint_id": endpoint.id,
            "kind": endpoint.kind,
            "url": endpoint.url,
            "current": endpoint.kind == "callback" or endpoint.url == store.webhook_url,
            "deliveries": {"total": sum(by_status.values()), "delivered": by_status.get("delivered", 0),
                           "pending": by_status.get("pending", 0) + by_status.get("sending", 0),
                           "dead": by_status.get("dead", 0)},
            "attempts": attempts,
            "successful_attempts": successes,
            "failed_attempts": attempts - successes,
            "success_rate": (Decimal(100 * successes) / attempts).quantize(Decimal("0.01")) if attempts else None,
            "response_time_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95)},
            "last_success_at": totals[2],
            "last_failure_at": totals[3],
            "health": health([row.ok for row in recent]),
        })
    return stats


def _attempt(a: DeliveryAttempt) -> dict[str, Any]:
    return {"number": a.number, "at": a.started_at, "status_code": a.status_code, "latency_ms": a.latency_ms,
            "ok": a.ok, "error": a.error, "response_excerpt": a.response_excerpt}


def delivery_row(d: Delivery, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    return {
        "id": d.id, "event_id": d.event_id, "event_type": d.event_type, "invoice_number": d.invoice_number,
        "channel": d.channel, "url": d.endpoint.url if d.endpoint else None, "recipient": d.recipient,
        "status": d.status, "attempts": d.attempts, "is_redelivery": d.is_redelivery,
        "redelivery_of": d.redelivery_of, "created_at": d.created_at, "next_attempt_at": d.next_attempt_at,
        "delivered_at": d.delivered_at, "dead_at": d.dead_at, "last_status_code": d.last_status_code,
        "last_error": d.last_error, "attempt_log": [_attempt(a) for a in attempts],
    }


def delivery_page(uow: UnitOfWork, store: Store, page: object = 1, per_page: object = 20,
                  status: object = None, channel: object = None, event_id: object = None) -> dict[str, Any]:
    """The delivery log, newest first, with paging and optional filters."""
    try:
        page_n = fields.whole(page, default=1, low=1, high=MAX_PAGE)
    except fields.FieldError as exc:
        raise ValidationFailed("Request validation failed", errors={"page": str(exc)}) from None
    try:
        size = fields.whole(per_page, default=20, low=1, high=MAX_PER_PAGE)
    except fields.FieldError as exc:
        raise ValidationFailed("Request validation failed", errors={"per_page": str(exc)}) from None
    where = [Delivery.store_id == store.id]
    for column, value in ((Delivery.status, status), (Delivery.channel, channel), (Delivery.event_id, event_id)):
        if value:
            where.append(column == str(value))
    session = uow.session
    total = session.execute(select(func.count()).select_from(Delivery).where(*where)).scalar_one()
    rows = session.execute(
        select(Delivery).where(*where).order_by(Delivery.id.desc()).offset((page_n - 1) * size).limit(size)
    ).scalars().all()
    attempts: dict[int, list[DeliveryAttempt]] = {d.id: [] for d in rows}
    if rows:
        for attempt in session.execute(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(list(attempts)))
            .order_by(DeliveryAttempt.number)
        ).scalars():
            attempts[attempt.delivery_id].append(attempt)
    return {"deliveries": [delivery_row(d, attempts[d.id]) for d in rows],
            "pagination": {"page": page_n, "per_page": size, "total": total, "pages": -(-total // size)}}
