"""Liveness (/healthz: the process answers) and readiness (/readyz: the deployment can take payments)."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bridge.extensions import db, services
from bridge.jsonio import json_response
from gateway_core.worker_status import lagging_watchers, last_heartbeat

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
HEARTBEAT_TICKS = 3  # a worker silent for this many watch ticks is taken for gone


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return json_response({"status": "ok"})


def _unready(reason: str, **detail: object) -> Response:
    return json_response({"status": "unready", "reason": reason, **detail}, 503)


@bp.get("/readyz")
def readyz() -> Response:
    """503 naming the reason: database unreachable, no worker heartbeat within 3 ticks, a watcher too far behind."""
    svc = services()
    settings = svc.settings
    now = svc.clock.now()
    window = timedelta(seconds=HEARTBEAT_TICKS * settings.watch_interval_seconds)
    try:
        with svc.uow(read_only=True) as uow:
            uow.session.execute(text("SELECT 1"))
            beat = last_heartbeat(uow)
            lagging = lagging_watchers(uow, settings.watch_max_lag, now - window)
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("readiness: database unreachable", extra={"error": type(exc).__name__})
        return _unready("database unreachable")
    if beat is None or now - beat > window:
        return _unready(f"no worker heartbeat within {HEARTBEAT_TICKS} ticks",
                        last_heartbeat=beat.isoformat() if beat else None)
    if lagging:
        names = ", ".join(f"{f.labels.get('chain')}/{f.labels.get('network')} ({f.value} behind)" for f in lagging)
        return _unready(f"watcher more than WATCH_MAX_LAG={settings.watch_max_lag} behind: {names}",
                        watchers=[{**f.labels, "lag": int(f.value)} for f in lagging])
    return json_response({"status": "ready"})
