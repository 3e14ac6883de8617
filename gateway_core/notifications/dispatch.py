"""Outbox dispatch: claim due deliveries atomically, send them outside any transaction, record every attempt.

Sends run on a thread pool with a cap per endpoint, so an endpoint that hangs ties up at most that many
threads and never delays deliveries to other endpoints. A worker that dies mid-send leaves its claims to
expire (the lease); another worker, or the same one restarted, sends them again with the same event id.
The SQL (one statement per claim, three per batch of outcomes) is in dispatch_rows.
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
from typing import Any

from sqlalchemy.orm import Session

from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.jsonwire import loads
from gateway_core.adapters.models import Delivery, Email, Store
from gateway_core.adapters.notify.email import sender_address
from gateway_core.adapters.notify.email_render import build_email
from gateway_core.adapters.notify.signing import standard_webhook_headers, store_signature
from gateway_core.adapters.secrets import KeyVault
from gateway_core.keys.api_keys import signing_key
from gateway_core.notifications.dispatch_rows import Attempt, any_due, claim, record
from gateway_core.notifications.outbox import enqueue_dead_letter_notice
from gateway_core.ports import Clock, DeliveryChannel, HttpResult, Mailer, OutgoingEmail, WebhookTransport
from gateway_core.stores.branding import EMAIL_BOX, logo_image

log = logging.getLogger(__name__)
KEY_CACHE_SECONDS = 30.0
RECORD_GATHER_SECONDS = 0.02
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
    store_id: int | None  # None: an account email (reset, invite)
    store_name: str
    brand_color: str | None
    api_key: str | None
    # What a registered channel (ports.DeliveryChannel) needs to sign or authenticate; never logged.
    credentials: Mapping[str, str] | None = None
    # Why this delivery could not even be prepared (its key or credentials): it fails one attempt, alone.
    problem: str | None = None
    language: str = "en"  # of the store's emails

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
        self.refill_at = self.claim_cap // 2
        # The margin over those timeouts covers claiming and recording: 10 s, or one more timeout when the
        # timeout is shorter (a local receiver, the fault loops): a killed worker's claims are sent again sooner.
        self.lease = timedelta(seconds=max(lease, 4 * timeout + min(10.0, timeout)))
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="deliver")
        self._cond = threading.Condition()
        self._keys: dict[int, tuple[str | None, float]] = {}
        self._credentials: dict[tuple[str, int, int | None], tuple[dict[str, str], float]] = {}
        self._in_flight: dict[int, int] = {}  # claimed and not finished, per endpoint (sending or waiting)
        self._running: dict[int, int] = {}
        self._backlog: dict[int, deque[Job]] = {}
        self._total = 0
        self._freed = 0  # counts wake-ups of the pump for freed slots, so one that lands mid-claim is not lost
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
                busy, freed = dict(self._in_flight), self._freed
            jobs, wait = self._claim(min(free, self.batch), busy)
            for job in jobs:
                self._start(job)
            submitted += len(jobs)
            if not jobs and not wait:
                return submitted
            if wait:
                # What is due waits only for endpoints at their cap: wait for a slot (or poll for new work).
                with self._cond:
                    if self._freed == freed:  # else a slot freed while we claimed: claim again now
                        self._cond.wait(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
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

    def _claim(self, limit: int, busy: dict[int, int]) -> tuple[list[Job], bool]:
        """Claim due deliveries in one statement; returns the jobs, and whether due work waits for a slot.

        No endpoint may end up with more than claim_cap claimed: those within per_endpoint of it are skipped,
        and the claim takes no more than the fullest of the others has room for (a fresh endpoint: claim_cap).
        """
        now = self.clock.now()
        room = {slot: self.claim_cap - n for slot, n in busy.items()}
        skipped = {slot for slot, free in room.items() if free < self.per_endpoint}
        limit = min([limit, self.claim_cap, *(free for slot, free in room.items() if slot not in skipped)])
        token = secrets.token_hex(8)
        with self.uow_factory() as uow:
            session = uow.session
            rows = claim(session, now=now, token=token, lease=self.lease, limit=limit,
                         skip_endpoints=sorted(s for s in skipped if s != MAIL_KEY), skip_mail=MAIL_KEY in skipped)
            if not rows:
                return [], bool(skipped) and any_due(session, now)
            jobs = [self._prepared(uow, row, token) for row in rows]
        # A full claim may have left more behind: claim again at once. A short one took all that was due except,
        # perhaps, work for the skipped endpoints: claiming again before one of them frees a slot finds nothing.
        return jobs, len(jobs) < limit and bool(skipped)

    def _prepared(self, uow: UnitOfWork, row: Any, token: str) -> Job:
        """The row's job; one whose preparation fails costs that delivery an attempt, not the whole claim."""
        try:
            return self._job(uow, row, token)
        except Exception as exc:
            log.exception("delivery could not be prepared", extra={"delivery_id": row.id})
            return Job(row.id, token, row.channel, row.endpoint_id, row.url, None, row.recipient, row.body, {},
                       row.event_id, row.event_type, row.is_redelivery, row.store_id, row.store_name or "", None,
                       None, problem=f"internal error: {exc.__class__.__name__}")

    def _job(self, uow: UnitOfWork, row: Any, token: str) -> Job:
        keys = self._keys
        store_id = row.store_id
        if row.channel == "store" and (store_id not in keys or keys[store_id][1] < time.monotonic()):
            # Cached briefly: decrypting per claim costs more than the claim; a rotated key is used
            # within KEY_CACHE_SECONDS (the old one stays valid for its grace period anyway).
            keys[store_id] = (signing_key(uow, self.vault, store_id), time.monotonic() + KEY_CACHE_SECONDS)
        return Job(row.id, token, row.channel, row.endpoint_id, row.url, row.secret, row.recipient, row.body,
                   dict(row.headers or {}), row.event_id, row.event_type, row.is_redelivery, store_id,
                   row.store_name, row.brand_color, keys[store_id][0] if store_id in keys else None,
                   self._channel_credentials(uow.session, row), language=row.language or "en")

    def _channel_credentials(self, session: Session, row: Any) -> dict[str, str] | None:
        """A registered channel's secrets for this delivery, cached like the store keys."""
        channel = self.channels.get(row.channel)
        if channel is None:
            return None
        slot = (row.channel, row.store_id, row.endpoint_id)
        cached = self._credentials.get(slot)
        if cached is None or cached[1] < time.monotonic():
            delivery = session.get(Delivery, row.id)  # the port takes the Delivery row
            cached = (channel.credentials(session, delivery, self.vault), time.monotonic() + KEY_CACHE_SECONDS)
            self._credentials[slot] = cached
        return cached[0]

    # -- sending -------------------------------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        started_at = self.clock.now()
        try:
            outcome = self._send(job, started_at) if job.problem is None else \
                Outcome(HttpResult(None, b"", 0.0, job.problem))
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
            # Wake the pump when this endpoint's queue is half run down: early enough that the next claim lands
            # before its senders go idle, late enough that a slow endpoint does not make the pump re-query for
            # every finished send (those queries slow everyone).
            if self._in_flight.get(job.slot, 0) == self.refill_at or self._total == self.max_claimed - 1:
                self._freed += 1
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
        with self.uow_factory() as uow:
            logo = logo_image(uow, job.store_id, EMAIL_BOX) if self.public_url and job.store_id is not None else None
        context = loads(job.body)
        # An email of no store (an account link) has no store language: its body says which it is written in.
        lang = job.language if job.store_id is not None else str(context.get("language") or job.language)
        email = build_email(job.event_type, context, brand_color=job.brand_color, sender=sender,
                            recipient=job.recipient, event_id=job.event_id, delivery_id=job.delivery_id, date=at,
                            logo_url=f"{self.public_url.rstrip('/')}/logo/{logo.digest}" if logo else None,
                            logo_size=(logo.width, logo.height) if logo else None, lang=lang)
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
            # Gather for a moment: a transaction per handful of outcomes costs the database more than the sends.
            until = time.monotonic() + RECORD_GATHER_SECONDS
            while len(batch) < 500:
                try:
                    more = self._outcomes.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if more is None:
                    self._outcomes.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                self._record(batch)
            except Exception:
                log.exception("recording delivery attempts failed; recording them one by one",
                              extra={"count": len(batch)})
                self._record_each(batch)
            finally:
                with self._cond:
                    self._unrecorded -= len(batch)
                    self._cond.notify_all()

    def _record_each(self, batch: list[tuple[Job, datetime, Outcome]]) -> None:
        """One transaction per outcome, so one that cannot be recorded (its email, say) holds up no other."""
        for item in batch:
            try:
                self._record([item])
            except Exception:
                job, started_at, outcome = item
                log.exception("recording a delivery attempt failed", extra={"delivery_id": job.delivery_id})
                if outcome.email is None:
                    continue  # the claim's lease expires and it is sent again: at least once, never lost
                try:  # the send happened; keep the attempt even if its copy of the email cannot be stored
                    self._record([(job, started_at, Outcome(outcome.result))])
                except Exception:
                    log.exception("recording a delivery attempt failed", extra={"delivery_id": job.delivery_id})

    def _record(self, batch: list[tuple[Job, datetime, Outcome]]) -> None:
        now = self.clock.now()
        with self.uow_factory() as uow:
            session = uow.session
            recorded = record(session, [Attempt(job.delivery_id, job.token, started_at, outcome.result)
                                        for job, started_at, outcome in batch], now)
            for job, _, outcome in batch:
                email = outcome.email
                if email is not None and job.delivery_id in recorded.delivered and outcome.result.ok:
                    session.add(Email(delivery_id=job.delivery_id, store_id=job.store_id,
                                      message_id=email.message_id, sender=email.sender, recipient=email.recipient,
                                      subject=email.subject, text_body=email.text, html_body=email.html,
                                      transport=self.mailer.name, created_at=now))
            for delivery_id in recorded.dead:
                delivery = session.get(Delivery, delivery_id)
                assert delivery is not None  # read under lock in this transaction
                log.warning("delivery dead-lettered", extra={"delivery_id": delivery_id,
                                                             "event_id": delivery.event_id,
                                                             "attempts": delivery.attempts})
                store = session.get(Store, delivery.store_id) if delivery.store_id is not None else None
                if store is not None:
                    enqueue_dead_letter_notice(session, delivery, store, now)

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
