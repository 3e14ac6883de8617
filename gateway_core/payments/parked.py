"""Parking one failed item of a watcher tick: logged with its id, counted, retried with backoff.

One invoice whose row cannot be read or whose outbox row cannot be written must not stop payment detection
for every other store: the tick parks it here and goes on. A parked item is retried when its next_try_at
comes (backoff doubling up to MAX_BACKOFF, for ever: a fixed item resumes by itself) and its row is deleted
once it succeeds. `voltbridge parked` lists what is parked for the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import ParkedItem

log = logging.getLogger(__name__)
UowFactory = Callable[[], UnitOfWork]
TRANSFER, FINALITY, EXPIRY = "transfer", "finality", "expiry"
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
MAX_ERROR_CHARS = 1000


def backoff(attempts: int) -> timedelta:
    """Wait before retry number attempts + 1: 30 s, 1 min, 2 min, ... at most an hour."""
    return min(FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 16), MAX_BACKOFF)


def describe(exc: BaseException) -> str:
    """The error as the operator reads it, bounded; never fails (it runs while handling a failure)."""
    text = f"{exc.__class__.__name__}: {exc}"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:MAX_ERROR_CHARS]


def parked_keys(uow_factory: UowFactory, kind: str, scope: str | None = None) -> dict[str, datetime]:
    """Every parked key of a kind (and scope), with when it may be tried again."""
    with uow_factory() as uow:
        query = select(ParkedItem.item_key, ParkedItem.next_try_at).where(ParkedItem.kind == kind)
        if scope is not None:
            query = query.where(ParkedItem.scope == scope)
        return {key: at for key, at in uow.session.execute(query).all()}


def due_payloads(uow_factory: UowFactory, kind: str, scope: str, now: datetime, limit: int = 500
                 ) -> list[dict[str, Any]]:
    """The payloads of parked items whose backoff has passed, oldest first."""
    with uow_factory() as uow:
        return [payload or {} for payload in uow.session.execute(
            select(ParkedItem.payload).where(ParkedItem.kind == kind, ParkedItem.scope == scope,
                                             ParkedItem.next_try_at <= now)
            .order_by(ParkedItem.next_try_at).limit(limit)
        ).scalars()]


def park(uow_factory: UowFactory, kind: str, key: str, exc: BaseException, now: datetime, *, scope: str = "",
         payload: dict[str, Any] | None = None) -> int:
    """Record (or count again) a failure of one item in its own transaction; returns its attempt count.

    Raises if even that cannot be written: the caller must then not read past the item.
    """
    error = describe(exc)
    try:
        attempts = _count(uow_factory, kind, key, error, now, scope, payload)
    except IntegrityError:  # another worker parked it at the same moment: count on its row
        attempts = _count(uow_factory, kind, key, error, now, scope, payload)
    log.error("item parked after a failure; the tick goes on with the others",
              extra={"kind": kind, "item": key, "attempts": attempts, "error": error})
    return attempts


def _count(uow_factory: UowFactory, kind: str, key: str, error: str, now: datetime, scope: str,
           payload: dict[str, Any] | None) -> int:
    with uow_factory() as uow:
        row = uow.session.execute(
            select(ParkedItem).where(ParkedItem.kind == kind, ParkedItem.item_key == key).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            row = ParkedItem(kind=kind, scope=scope, item_key=key, payload=payload, attempts=1, last_error=error,
                             first_failed_at=now, next_try_at=now + backoff(1))
            uow.session.add(row)
        else:
            row.attempts += 1
            row.last_error, row.next_try_at = error, now + backoff(row.attempts)
            if payload is not None:
                row.payload = payload
        uow.session.flush()
        return row.attempts


def release(uow_factory: UowFactory, kind: str, keys: Iterable[str]) -> None:
    """Forget parked items that have now succeeded."""
    keys = list(keys)
    if not keys:
        return
    with uow_factory() as uow:
        uow.session.execute(delete(ParkedItem).where(ParkedItem.kind == kind, ParkedItem.item_key.in_(keys)))
    log.info("parked items handled", extra={"kind": kind, "items": keys})


def list_parked(uow: UnitOfWork) -> list[ParkedItem]:
    """Everything parked, oldest failure first (for the operator)."""
    return list(uow.session.execute(select(ParkedItem).order_by(ParkedItem.first_failed_at, ParkedItem.id))
                .scalars())
