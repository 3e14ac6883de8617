"""Outbox dispatch throughput, and what an endpoint that never answers costs everyone else.

Run A: 5,000 deliveries to a fast receiver. Run B, in the same process: the same 5,000 plus one extra
endpoint that accepts connections and never answers (it is due a delivery for every tenth event, queued
first). Both receivers run in their own process on 127.0.0.1; the fast one keeps connections alive as any
production server does (--receiver-closes makes it close each one, as the first version of this bench did). The
dispatcher is the production one (gateway_core.notifications.dispatch) with its production 30 s timeout, on a
temporary SQLite file (or on PostgreSQL with --database-url / TEST_DATABASE_URL, in a schema of its own).

    .venv/bin/python bench/webhook_dispatch.py [--deliveries 5000] [--receiver-closes]

Prints the figures, then one JSON object as the last line: deliveries_per_s, deliveries_per_s_with_dead_endpoint,
p99_added_delay_s (p99 delivery delay of the healthy endpoint with the dead one, minus without it).
Targets: at least 300 deliveries/s, at most 1 s added delay.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bridge.migrate import upgrade  # noqa: E402
from gateway_core.adapters.db import normalise_url  # noqa: E402
from gateway_core.adapters.jsonwire import dumps  # noqa: E402
from gateway_core.adapters.models import Delivery  # noqa: E402
from gateway_core.bootstrap import build_services, dispatcher_for  # noqa: E402
from gateway_core.config import Settings  # noqa: E402
from gateway_core.domain.delivery import percentile  # noqa: E402
from gateway_core.domain.identifiers import new_event_id  # noqa: E402
from gateway_core.notifications.outbox import endpoint_for  # noqa: E402
from gateway_core.stores.manage import create_store  # noqa: E402

TARGET_RATE, TARGET_ADDED_DELAY = 300.0, 1.0


def _serve(kind: str, port_out: Any, stop: Any, arrivals: Any, keep_alive: bool) -> None:
    """A receiver process: 'fast' answers 200 at once and reports arrival times; 'dead' never answers.

    Like any production web server the fast one keeps connections alive (HTTP/1.1), unless told to close each.
    """
    seen: list[tuple[str, float]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # As gunicorn and nginx do: the status line and the body go out in two writes, and on a kept-alive
        # connection Nagle would hold the second until the client's delayed ACK, 40 ms later.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if kind == "dead":
                stop.wait()
                return
            seen.append((self.headers.get("webhook-id") or "", time.monotonic()))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            if not keep_alive:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"ok")

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024  # set before listen(): a short accept queue drops SYNs, costing 1 s retransmits
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    port_out.send(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while not stop.wait(0.1):
        pass
    server.shutdown()
    arrivals.send(seen)


class ReceiverProcess:
    def __init__(self, kind: str, keep_alive: bool = True) -> None:
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        port_in, port_out = ctx.Pipe(duplex=False)
        self._arrivals_in, arrivals_out = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_serve, args=(kind, port_out, self.stop, arrivals_out, keep_alive),
                                   daemon=True)
        self.process.start()
        self.port = port_in.recv()

    def finish(self) -> list[tuple[str, float]]:
        self.stop.set()
        seen = self._arrivals_in.recv() if self._arrivals_in.poll(10) else []
        self.process.join(5)
        return seen  # type: ignore[no-any-return]


def enqueue(svc: Any, store_id: int, urls: list[tuple[str, int]], first: int, count: int) -> dict[str, float]:
    """Events first..first+count; each goes to every (url, every_nth) whose nth divides its index.

    Returns the time each event was committed (time.monotonic(), comparable with the receiver process's).
    """
    with svc.uow() as uow:
        now = svc.clock.now()
        endpoints = [(endpoint_for(uow.session, store_id, "store", url, now), every) for url, every in urls]
        rows, ids = [], []
        for n in range(first, first + count):
            event_id = new_event_id()
            ids.append(event_id)
            for endpoint, every in endpoints:
                if n % every == 0:
                    rows.append(Delivery(store_id=store_id, event_id=event_id, event_type="payment_received",
                                         invoice_number=f"B{n:06d}", channel="store", endpoint_id=endpoint.id,
                                         body=dumps({"event_id": event_id, "n": n}),
                                         headers={"Content-Type": "application/json"}, next_attempt_at=now,
                                         created_at=now, updated_at=now))
        uow.session.add_all(rows)
    committed = time.monotonic()
    return dict.fromkeys(ids, committed)


def run(svc: Any, store_id: int, count: int, dead: bool, rate: float | None,
        keep_alive: bool = True) -> dict[str, Any]:
    """Burst (rate None): everything queued at once, delays counted from the start. Stream: `rate` events per
    second queued in steps of 0.1 s, delays counted from each event's commit."""
    fast = ReceiverProcess("fast", keep_alive)
    dead_receiver = ReceiverProcess("dead") if dead else None
    urls = [(f"http://127.0.0.1:{fast.port}/hook", 1)]
    if dead_receiver is not None:
        urls.insert(0, (f"http://127.0.0.1:{dead_receiver.port}/never", 10))  # queued first: the oldest rows
    queued: dict[str, float] = {}
    if rate is None:
        queued = enqueue(svc, store_id, urls, 0, count)
    dispatcher = dispatcher_for(svc)
    started = time.monotonic()
    stop = threading.Event()

    def pump() -> None:  # a worker with work waiting pumps back to back
        while not stop.is_set():
            dispatcher.pump(budget=1.0)
            stop.wait(0.02)

    def feed() -> None:
        step = max(1, int(rate or 0) // 10)
        for first in range(0, count, step):
            queued.update(enqueue(svc, store_id, urls, first, min(step, count - first)))
            stop.wait(max(0.0, started + (first + step) / (rate or 1) - time.monotonic()))

    threads = [threading.Thread(target=pump, daemon=True)]
    if rate is not None:
        threads.append(threading.Thread(target=feed, daemon=True))
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with svc.uow() as uow:
            done = uow.session.execute(
                sa.select(sa.func.count()).select_from(Delivery)
                .where(Delivery.status == "delivered", Delivery.endpoint_id.is_not(None))
            ).scalar_one()
        if done >= count:
            break
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()
    arrivals = fast.finish()
    if dead_receiver is not None:
        dead_receiver.finish()  # its hung connections close, so the sends still waiting on it end now
    dispatcher.shutdown(wait=True)
    with svc.uow() as uow:
        uow.session.execute(sa.delete(Delivery))
    first_arrival = {}
    for event_id, at in arrivals:
        first_arrival.setdefault(event_id, at)
    since = {event_id: (started if rate is None else queued[event_id]) for event_id in first_arrival}
    delays = sorted(at - since[event_id] for event_id, at in first_arrival.items())
    elapsed = max(first_arrival.values()) - started if first_arrival else float("inf")
    return {"delivered": len(first_arrival), "seconds": elapsed,
            "per_s": len(first_arrival) / elapsed if elapsed else 0.0,
            "p50_delay_s": percentile(delays, 0.5), "p99_delay_s": percentile(delays, 0.99)}


def _database(args: argparse.Namespace, folder: Path) -> tuple[str, Any]:
    url = args.database_url or os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{folder / 'bench.db'}", None
    schema = f"vb_bench_{secrets.token_hex(3)}"
    admin = sa.create_engine(normalise_url(url))
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return f"{url}{separator}options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second in the stream runs")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--receiver-closes", action="store_true",
                        help="the fast receiver closes every connection (Connection: close) instead of keeping it")
    args = parser.parse_args()
    keep_alive = not args.receiver_closes
    with tempfile.TemporaryDirectory() as tmp:
        url, cleanup = _database(args, Path(tmp))
        try:
            upgrade(url)
            settings = Settings.from_env({}, database_url=url, secret_key="bench", instance_path=tmp,
                                         outbound_allowlist=("127.0.0.1",), log_json=False,
                                         rate_sources=("fixed",))  # no live rate source: nothing outside 127.0.0.1
            svc = build_services(settings)
            with svc.uow() as uow:
                store = create_store(uow, svc.vault, name="Bench Shop", network="sandbox")
            backend = svc.engine.dialect.name if svc.engine is not None else "?"
            print(f"webhook dispatch on {backend}: {args.deliveries} deliveries, "
                  f"{settings.delivery_concurrency} sender threads, {settings.webhook_timeout_seconds:g} s timeout, "
                  f"receiver {'keeps connections alive' if keep_alive else 'closes every connection'} "
                  f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
            healthy = run(svc, store.id, args.deliveries, dead=False, rate=None, keep_alive=keep_alive)
            print(f"  burst, fast receiver only:   {healthy['per_s']:7.1f} deliveries/s  "
                  f"({healthy['delivered']} in {healthy['seconds']:.2f} s)")
            with_dead = run(svc, store.id, args.deliveries, dead=True, rate=None, keep_alive=keep_alive)
            print(f"  burst, plus a dead endpoint: {with_dead['per_s']:7.1f} deliveries/s  "
                  f"({with_dead['delivered']} in {with_dead['seconds']:.2f} s; {args.deliveries // 10} deliveries "
                  f"to the dead endpoint, queued ahead)")
            steady = run(svc, store.id, args.deliveries, dead=False, rate=args.rate, keep_alive=keep_alive)
            steady_dead = run(svc, store.id, args.deliveries, dead=True, rate=args.rate, keep_alive=keep_alive)
            print(f"  stream of {args.rate:g} events/s, delay from commit to arrival: "
                  f"p50 {steady['p50_delay_s']:.3f} s, p99 {steady['p99_delay_s']:.3f} s; with the dead endpoint: "
                  f"p50 {steady_dead['p50_delay_s']:.3f} s, p99 {steady_dead['p99_delay_s']:.3f} s")
            added = max(0.0, steady_dead["p99_delay_s"] - steady["p99_delay_s"])
            ratio = with_dead["per_s"] / healthy["per_s"] if healthy["per_s"] else 0.0
            met = min(healthy["per_s"], with_dead["per_s"]) >= TARGET_RATE and added <= TARGET_ADDED_DELAY
            print(f"  p99 delay the dead endpoint adds to healthy deliveries: {added:.3f} s "
                  f"(target <= {TARGET_ADDED_DELAY:g} s); throughput ratio with/without: {ratio:.2f}; "
                  f"targets (>= {TARGET_RATE:g}/s, <= {TARGET_ADDED_DELAY:g} s): {'met' if met else 'MISSED'}")
            if svc.engine is not None:
                svc.engine.dispose()
        finally:
            if cleanup is not None:
                cleanup()
    print(json.dumps({"bench": "webhook_dispatch", "backend": backend, "deliveries": args.deliveries,
                      "receiver_keep_alive": keep_alive,
                      "deliveries_per_s": round(healthy["per_s"], 1),
                      "deliveries_per_s_with_dead_endpoint": round(with_dead["per_s"], 1),
                      "p99_added_delay_s": round(added, 3),
                      "stream_events_per_s": args.rate, "stream_p99_delay_s": round(steady["p99_delay_s"], 3),
                      "stream_p99_delay_with_dead_endpoint_s": round(steady_dead["p99_delay_s"], 3),
                      "throughput_ratio": round(ratio, 3),
                      "target_deliveries_per_s": TARGET_RATE, "target_p99_added_delay_s": TARGET_ADDED_DELAY}))


if __name__ == "__main__":
    main()
