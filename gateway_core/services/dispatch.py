"""Outbox dispatch: claim due deliveries atomically, send them outside any transaction, record every attempt.

Sends run on a thread pool with a cap per endpoint, so an endpoint that hangs ties up at most that many
threads and never delays deliveries to other endpoints. A worker that dies mid-send leaves its claims to
expire (the lease); another worker, or the same one restarted, sends them again with the same event id.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, lazyload

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.jsonwire import loads
from gateway_core.adapters.models import Delivery, DeliveryAttempt, Email, Store
from gateway_core.adapters.notify.email import sender_address
from gateway_core.adapters.notify.email_render import build_email
from gateway_core.adapters.notify.signing import standard_webhook_headers, store_signature
from gateway_core.adapters.secrets import KeyVault
from gateway_core.domain.delivery import next_retry
from gateway_core.ports import Clock, DeliveryChannel, HttpResult, Mailer, OutgoingEmail, WebhookTransport
from gateway_core.services.keys import signing_key
from gateway_core.services.outbox import enqueue_dead_letter_notice

log = logging.getLogger(__name__)
EXCERPT_CHARS = 500
KEY_CACHE_SECONDS = 30.0
_EARLIER = aliased(Delivery)  # one alias for the process: a fresh one per claim defeats the statement cache
MAIL_KEY = -1  # the in-flight slot key for email deliveries (they have no endpoint)


@dataclass(frozen=True)
class Job:
    """A claimed delivery, copied out of the transaction that claimed it."""

    delivery_id: int
    token: str
    channel: str
    endpoint_id: int | None
    url: str | None
    secret: str | None
    recipient: str | None
    body: str
    headers: dict[str, str]
    event_id: str
    event_type: str
    is_redelivery: bool
    store_id: int
    store_name: str
    brand_color: str | None
    api_key: str | None
    # What a registered channel (ports.DeliveryChannel) needs to sign or authenticate; never logged.
    credentials: Mapping[str, str] | None = None

    @property
    def slot(self) -> int:
        return self.endpoint_id if self.endpoint_id is not None else MAIL_KEY


@dataclass(frozen=True)
class Outcome:
    result: HttpResult
    email: OutgoingEmail | None = None


class Dispatcher:
    """Long-lived: one per worker process. pump() is the scheduler's job; sends continue between pumps."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], clock: Clock, transport: WebhookTransport,
                 mailer: Mailer, vault: KeyVault, *, mail_from: str = "", public_url: str = "",
                 concurrency: int = 32, per_endpoint: int = 8, timeout: float = 30.0,
                 lease: float = 90.0, batch: int = 100,
                 channels: Mapping[str, DeliveryChannel] | None = None) -> None:
        self.channels = dict(channels or {})
        self.uow_factory, self.clock, self.transport, self.mailer, self.vault = (
            uow_factory, clock, transport, mailer, vault)
        self.mail_from, self.public_url = mail_from, public_url
        self.concurrency, self.per_endpoint, self.timeout, self.batch = concurrency, per_endpoint, timeout, batch
        # Claimed per endpoint: per_endpoint sending and up to three times as many waiting behind them, so one
        # claim fetches a useful batch. A waiting job may sit behind three rounds of timeouts before its own
        # send: the lease covers that, so a live worker's claims never expire under it.
        self.claim_cap = 4 * per_endpoint
        # As many claimed in all as the endpoints that can send at once (concurrency / per_endpoint) may hold.
        self.max_claimed = max(self.claim_cap, 4 * concurrency)
        self.lease = timedelta(seconds=max(lease, 4 * timeout + 10))
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="deliver")
        self._cond = threading.Condition()
        self._keys: dict[int, tuple[str | None, float]] = {}
        self._credentials: dict[tuple[str, int, int | None], tuple[dict[str, str], float]] = {}
        self._in_flight: dict[int, int] = {}  # claimed and not finished, per endpoint (sending or waiting)
        self._running: dict[int, int] = {}
        self._backlog: dict[int, deque[Job]] = {}
        self._total = 0
        # Outcomes are recorded by one thread in batches: one transaction per batch instead of per send, and
        # no write-lock contention between sender threads on SQLite.
        self._outcomes: queue.Queue[tuple[Job, datetime, Outcome] | None] = queue.Queue()
        self._unrecorded = 0
        self._recorder = threading.Thread(target=self._record_loop, name="deliver-record", daemon=True)
        self._recorder.start()

    # -- claiming ------------------------------------------------------------------------------------------

    def pump(self, budget: float = 10.0) -> int:
        """Claim and submit due deliveries until none can be claimed (or budget seconds pass); returns count."""
        deadline = time.monotonic() + budget
        submitted = 0
        while time.monotonic() < deadline:
            with self._cond:
                while self._total >= self.max_claimed:
                    if time.monotonic() >= deadline:
                        return submitted
                    self._cond.wait(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
                free = self.max_claimed - self._total
                busy = dict(self._in_flight)
            jobs, blocked = self._claim(min(free, self.batch), busy)
            if not jobs:
                if not blocked:
                    return submitted
                # Due work waits only for endpoints already at their cap: wait for a slot, poll for new work.
                with self._cond:
                    self._cond.wait(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
                continue
            for job in jobs:
                self._start(job)
            submitted += len(jobs)
        return submitted

    def _start(self, job: Job) -> None:
        """Send now if the endpoint has a free slot, else queue behind its running sends."""
        with self._cond:
            self._in_flight[job.slot] = self._in_flight.get(job.slot, 0) + 1
            self._total += 1
            if self._running.get(job.slot, 0) >= self.per_endpoint:
                self._backlog.setdefault(job.slot, deque()).append(job)
                return
            self._running[job.slot] = self._running.get(job.slot, 0) + 1
        self._pool.submit(self._run, job)

    def _due(self, now: datetime) -> object:
        return or_(and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
                   and_(Delivery.status == "sending", Delivery.claimed_until < now))

    def _claim(self, limit: int, busy: dict[int, int]) -> tuple[list[Job], bool]:
        """Mark up to `limit` due deliveries as ours in one transaction; the WHERE re-check makes it atomic.

        Returns the claimed jobs, and whether due deliveries were left only because their endpoint is at its cap.
        """
        now = self.clock.now()
        token = secrets.token_hex(8)
        due = self._due(now)
        saturated = [slot for slot, n in busy.items() if n >= self.claim_cap]
        filters = []
        endpoints = [s for s in saturated if s != MAIL_KEY]
        if endpoints:
            filters.append(or_(Delivery.endpoint_id.is_(None), Delivery.endpoint_id.not_in(endpoints)))
        if MAIL_KEY in saturated:
            filters.append(Delivery.endpoint_id.is_not(None))
        # Two index range scans rather than one OR: the due-pending scan comes out in order from the
        # (status, next_attempt_at) index, so its cost does not grow with the backlog.
        pending = (select(Delivery.id, Delivery.endpoint_id)
                   .where(Delivery.status == "pending", Delivery.next_attempt_at <= now, *filters)
                   .order_by(Delivery.status, Delivery.next_attempt_at).limit(limit * 4))
        expired = (select(Delivery.id, Delivery.endpoint_id)
                   .where(Delivery.status == "sending", Delivery.claimed_until < now, *filters).limit(limit * 4))
        with self.uow_factory() as uow:
            session = uow.session
            rows = list(session.execute(expired).all()) + list(session.execute(pending).all())
            rows = rows[:limit * 4]
            if rows:
                # Per endpoint, one invoice's events go out in order: a storefront that sees payment_completed
                # before payment_received would move the order back. A later event waits while an earlier one
                # is unsettled. (Checked on the candidates only: an anti-join over every due row costs more.)
                earlier = _EARLIER
                waiting = set(session.execute(select(Delivery.id).where(
                    Delivery.id.in_([r[0] for r in rows]),
                    exists().where(earlier.endpoint_id == Delivery.endpoint_id,
                                   earlier.invoice_number == Delivery.invoice_number, earlier.id < Delivery.id,
                                   earlier.status.in_(("pending", "sending"))))).scalars())
                rows = [r for r in rows if r[0] not in waiting]
            picked, counts = [], dict(busy)
            for delivery_id, endpoint_id in rows:
                slot = endpoint_id if endpoint_id is not None else MAIL_KEY
                if counts.get(slot, 0) < self.claim_cap:
                    counts[slot] = counts.get(slot, 0) + 1
                    picked.append(delivery_id)
                    if len(picked) >= limit:
                        break
            if not picked:
                blocked = bool(rows) or (bool(saturated) and session.execute(
                    select(Delivery.id).where(due).limit(1)).first() is not None)  # type: ignore[arg-type]
                return [], blocked
            session.execute(
                update(Delivery).where(Delivery.id.in_(picked), due)  # type: ignore[arg-type]
                .values(status="sending", claimed_by=token, claimed_until=now + self.lease, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            # By primary key: claimed_by has no index, and a scan of every delivery per claim adds up.
            claimed = session.execute(select(Delivery).where(Delivery.id.in_(picked), Delivery.claimed_by == token)
                                      ).scalars().all()
            stores = {s.id: s for s in session.execute(
                select(Store).where(Store.id.in_({d.store_id for d in claimed}))).scalars()}
            keys = self._keys
            jobs = []
            for d in claimed:
                store = stores[d.store_id]
                if d.channel == "store" and (store.id not in keys or keys[store.id][1] < time.monotonic()):
                    # Cached briefly: decrypting per claim costs more than the claim; a rotated key is used
                    # within KEY_CACHE_SECONDS (the old one stays valid for its grace period anyway).
                    keys[store.id] = (signing_key(uow, self.vault, store.id), time.monotonic() + KEY_CACHE_SECONDS)
                jobs.append(Job(
                    d.id, token, d.channel, d.endpoint_id, d.endpoint.url if d.endpoint else None,
                    d.endpoint.secret if d.endpoint else None, d.recipient, d.body, dict(d.headers or {}),
                    d.event_id, d.event_type, d.is_redelivery, store.id, store.name, store.brand_color,
                    keys[store.id][0] if store.id in keys else None, self._channel_credentials(session, d)))
        return jobs, False

    def _channel_credentials(self, session: Session, delivery: Delivery) -> dict[str, str] | None:
        """A registered channel's secrets for this delivery, cached like the store keys."""
        channel = self.channels.get(delivery.channel)
        if channel is None:
            return None
        slot = (delivery.channel, delivery.store_id, delivery.endpoint_id)
        cached = self._credentials.get(slot)
        if cached is None or cached[1] < time.monotonic():
            cached = (channel.credentials(session, delivery, self.vault), time.monotonic() + KEY_CACHE_SECONDS)
            self._credentials[slot] = cached
        return cached[0]

    # -- sending -------------------------------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        started_at = self.clock.now()
        try:
            outcome = self._send(job, started_at)
        except Exception as exc:  # a bug must cost one attempt, not the worker
            log.exception("delivery send failed", extra={"delivery_id": job.delivery_id})
            outcome = Outcome(HttpResult(None, b"", 0.0, f"internal error: {exc.__class__.__name__}"))
        following = None
        with self._cond:
            self._in_flight[job.slot] -= 1
            if not self._in_flight[job.slot]:
                del self._in_flight[job.slot]
            self._total -= 1
            self._unrecorded += 1
            waiting = self._backlog.get(job.slot)
            if waiting:
                following = waiting.popleft()  # keeps this endpoint's running count as it is
            else:
                self._running[job.slot] -= 1
                if not self._running[job.slot]:
                    del self._running[job.slot]
            # Wake the pump only when this endpoint's queue has run down: waking it on every send makes it
            # re-query for work that is only waiting on a slow endpoint, and those queries slow everyone.
            if self._in_flight.get(job.slot, 0) <= self.per_endpoint:
                self._cond.notify_all()
        self._outcomes.put((job, started_at, outcome))
        if following is not None:
            self._pool.submit(self._run, following)

    def _send(self, job: Job, at: datetime) -> Outcome:
        if job.channel == "email":
            return self._send_email(job, at)
        channel = self.channels.get(job.channel)
        if channel is not None:
            return Outcome(channel.send(job, at, self.transport, self.timeout))
        body = job.body.encode()
        headers = dict(job.headers)
        if job.channel == "store" and job.api_key:
            headers["X-VOLTXT-Signature"] = store_signature(body, job.api_key)
        if job.secret:
            headers.update(standard_webhook_headers(job.secret, job.event_id, int(at.timestamp()), body))
        if job.is_redelivery:
            headers["X-VOLTXT-Redelivery"] = "true"
        assert job.url is not None
        return Outcome(self.transport.post(job.url, body, headers, self.timeout))

    def _send_email(self, job: Job, at: datetime) -> Outcome:
        assert job.recipient is not None
        sender = sender_address(self.mail_from, self.public_url, job.store_name)
        email = build_email(job.event_type, loads(job.body), brand_color=job.brand_color, sender=sender,
                            recipient=job.recipient, event_id=job.event_id, delivery_id=job.delivery_id, date=at)
        started = time.monotonic()
        try:
            self.mailer.send(email)
        except Exception as exc:  # smtplib raises OSError and SMTPException subclasses
            return Outcome(HttpResult(None, b"", time.monotonic() - started,
                                      f"{exc.__class__.__name__}: {exc}"[:300]), email)
        return Outcome(HttpResult(250, b"", time.monotonic() - started), email)

    # -- recording -----------------------------------------------------------------------------------------

    def _record_loop(self) -> None:
        while True:
            item = self._outcomes.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 500:
                try:
                    more = self._outcomes.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._outcomes.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                self._record(batch)
            except Exception:
                # The claims' leases expire and the deliveries are sent again: at least once, never lost.
                log.exception("recording delivery attempts failed", extra={"count": len(batch)})
            finally:
                with self._cond:
                    self._unrecorded -= len(batch)
                    self._cond.notify_all()

    def _record(self, batch: list[tuple[Job, datetime, Outcome]]) -> None:
        now = self.clock.now()
        with self.uow_factory() as uow:
            session = uow.session
            ids = [job.delivery_id for job, _, _ in batch]
            rows = {d.id: d for d in session.execute(
                select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id).with_for_update(of=Delivery)
                .options(lazyload(Delivery.endpoint))  # only a dead letter needs it
            ).scalars()}
            for job, started_at, outcome in batch:
                delivery = rows.get(job.delivery_id)
                if delivery is not None:
                    self._apply(session, delivery, job, started_at, outcome, now)

    def _apply(self, session: Session, delivery: Delivery, job: Job, started_at: datetime, outcome: Outcome,
               now: datetime) -> None:
        """One attempt on record, and what it means for the delivery: done, retry later, or dead-lettered."""
        result = outcome.result
        delivery.attempts += 1
        session.add(DeliveryAttempt(
            delivery_id=delivery.id, endpoint_id=delivery.endpoint_id, number=delivery.attempts,
            started_at=started_at, status_code=result.status, latency_ms=round(result.latency * 1000),
            ok=result.ok, error=result.error,
            response_excerpt=result.body[:EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS] or None))
        first = delivery.first_attempt_at or started_at
        delivery.first_attempt_at = first
        delivery.last_status_code, delivery.last_error = result.status, result.error
        delivery.updated_at = now
        if result.ok and outcome.email is not None:
            email = outcome.email
            session.add(Email(delivery_id=delivery.id, store_id=delivery.store_id, message_id=email.message_id,
                              sender=email.sender, recipient=email.recipient, subject=email.subject,
                              text_body=email.text, html_body=email.html, transport=self.mailer.name,
                              created_at=now))
        if result.ok:
            if delivery.status != "delivered":
                delivery.status, delivery.delivered_at = "delivered", now
            delivery.claimed_by = delivery.claimed_until = None
            return
        if delivery.claimed_by != job.token or delivery.status != "sending":
            return  # our lease ran out and someone else owns it now; the attempt is still on record
        delay = next_retry(delivery.attempts, now - first)
        delivery.claimed_by = delivery.claimed_until = None
        if delay is None:
            delivery.status, delivery.dead_at = "dead", now
            log.warning("delivery dead-lettered", extra={"delivery_id": delivery.id, "event_id": job.event_id,
                                                         "attempts": delivery.attempts})
            store = session.get(Store, delivery.store_id)
            if store is not None:
                enqueue_dead_letter_notice(session, delivery, store, now)
        else:
            delivery.status, delivery.next_attempt_at = "pending", now + delay

    # -- lifecycle -----------------------------------------------------------------------------------------

    def in_flight(self) -> int:
        with self._cond:
            return self._total

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is being sent or waiting to be recorded; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._total or self._unrecorded:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=remaining)
        return True

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Pump and drain until nothing is due now (tests and benchmarks; the worker just pumps on a timer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            submitted = self.pump(budget=max(0.0, deadline - time.monotonic()))
            self.drain(max(0.0, deadline - time.monotonic()))
            if not submitted:
                return

    def shutdown(self, wait: bool = True) -> None:
        """Stop sending; with wait, finish the sends in flight and record them first."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
        self._outcomes.put(None)
        if wait:
            self._recorder.join(timeout=30)


def dispatcher_for(services: object, **options: object) -> Dispatcher:
    """A dispatcher wired from Services (settings, clock, transport, mailer, vault)."""
    from gateway_core.bootstrap import Services

    assert isinstance(services, Services) and services.webhooks is not None and services.mailer is not None
    settings = services.settings
    values: dict[str, object] = {"mail_from": settings.mail_from, "public_url": settings.public_url,
                                 "concurrency": settings.delivery_concurrency,
                                 "timeout": settings.webhook_timeout_seconds,
                                 "lease": settings.delivery_lease_seconds, "channels": services.channels,
                                 **options}
    return Dispatcher(services.uow, services.clock, services.webhooks, services.mailer, services.vault,
                      **values)  # type: ignore[arg-type]
