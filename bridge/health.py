"""Liveness and readiness: the trivial JSON endpoint the benchmark compares against."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text

from bridge.extensions import db
from bridge.jsonio import json_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    return json_response({"status": "ready"})
