"""Wake-up latency: from the commit of a status change to the local webhook receiver having the request, and
to the payment page's event stream having the event; with the wake-up on, and off (polling only), same run.

The gateway runs embedded (web app and worker in one process, as `voltbridge run`), on a temporary SQLite
file, or on PostgreSQL with --database-url / TEST_DATABASE_URL (a schema of its own; NOTIFY is sent and
relayed too). Each round: an invoice with a callback URL on a receiver at 127.0.0.1, its event stream open,
a sandbox payment, one watch tick; the clock starts at the commit that records the payment.

    .venv/bin/python bench/notify_latency.py [--rounds 15]

Last line, JSON: webhook_p50_ms, webhook_p99_ms, stream_p50_ms, stream_p99_ms, and the same four with
_no_wakeup. Targets with the wake-up: p50 < 50 ms, p99 < 250 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from apscheduler.schedulers.background import BackgroundScheduler  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from webhook_dispatch import _database  # noqa: E402

from bridge import create_app  # noqa: E402
from bridge.jsonio import dumps  # noqa: E402
from bridge.migrate import upgrade  # noqa: E402
from gateway_core.adapters import wakeup  # noqa: E402
from gateway_core.adapters.models import Event  # noqa: E402
from gateway_core.bootstrap import build_services  # noqa: E402
from gateway_core.config import Settings  # noqa: E402
from gateway_core.domain.delivery import percentile  # noqa: E402
from gateway_core.stores.manage import create_store  # noqa: E402
from gateway_core.worker import schedule, watch_chains  # noqa: E402
from storefront_adapters import install_channels  # noqa: E402

WAIT_SECONDS = 10.0
committed: list[float] = []


def _flushed(session: Session, _context: Any) -> None:
    if any(isinstance(o, Event) and o.type != "invoice.created" for o in session.new):
        session.info["bench_status_change"] = True


def _commit(session: Session) -> None:
    # A savepoint's release is reported as a commit too (the first use of a callback URL makes one mid-
    # transaction): the clock starts when the transaction commits, when a waiter could first see the change.
    if not session.in_nested_transaction() and session.info.pop("bench_status_change", False):
        committed.append(time.perf_counter())


class Receiver:
    """Records when each path's first request arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                at = time.perf_counter()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.cond:
                    owner.arrived.setdefault(self.path, at)
                    owner.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, path: str) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: path in self.arrived, timeout=WAIT_SECONDS)
            return self.arrived.get(path)


def _stream(client: Any, number: str, opened: threading.Event, changed: list[float]) -> None:
    """Read the page's event stream; note when the first status event after the opening one arrives."""
    response = client.get(f"/pay/{number}/events", buffered=False)
    seen = 0
    for chunk in response.response:
        if b"event: status" in chunk:
            seen += 1
            if seen == 1:
                opened.set()
            else:
                changed.append(time.perf_counter())
                break
    response.close()


def one_round(app: Any, svc: Any, api_key: str, receiver: Receiver, index: int) -> tuple[float, float]:
    client = app.test_client()
    body = {"api_key": api_key, "platform": "custom", "external_invoice_id": f"latency-{index}", "amount": "10",
            "fiat_currency": "USD", "callback_url": f"{receiver.url}/hook/{index}"}
    created = client.post("/api/plugin/invoice/create", data=dumps(body), content_type="application/json")
    number = created.get_json()["invoice_number"]
    opened, changed = threading.Event(), []
    reader = threading.Thread(target=_stream, args=(app.test_client(), number, opened, changed), daemon=True)
    reader.start()
    opened.wait(WAIT_SECONDS)
    paid = client.post(f"/pay/{number}/simulate", data=dumps({"asset": "SOL"}), content_type="application/json")
    assert paid.status_code == 201, paid.get_data(as_text=True)
    committed.clear()
    watch_chains(svc)
    start = committed[0]
    webhook = receiver.wait(f"/hook/{index}")
    reader.join(WAIT_SECONDS)
    assert webhook is not None and changed, "the webhook or the stream event never arrived"
    return (webhook - start) * 1000, (changed[0] - start) * 1000


def run(url: str, folder: str, rounds: int) -> dict[str, float | None]:
    settings = Settings.from_env({}, database_url=url, secret_key="bench", instance_path=folder, log_json=False,
                                 log_level="WARNING", outbound_allowlist=("127.0.0.1",), sandbox_finality_seconds=0.0,
                                 watch_interval_seconds=3600.0, expiry_interval_seconds=3600.0,
                                 sweep_interval_seconds=3600.0,
                                 rate_sources=("fixed",))  # no live rate source: nothing outside 127.0.0.1
    svc = install_channels(build_services(settings))
    app = create_app(settings)
    app.config["CHECKOUT_POLL_SECONDS"] = 1.0
    with svc.uow() as uow:
        store = create_store(uow, svc.vault, name="Latency Shop", network="sandbox")
    receiver = Receiver()
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    schedule(scheduler, svc)
    scheduler.start()
    figures: dict[str, float | None] = {}
    try:
        for suffix, wake in (("", True), ("_no_wakeup", False)):
            wakeup.changes.enabled = wake
            webhook, stream = [], []
            for index in range(rounds):
                w, s = one_round(app, svc, store.api_key, receiver, index + (0 if wake else rounds))
                webhook.append(w)
                stream.append(s)
            for name, values in (("webhook", webhook), ("stream", stream)):
                for label, fraction in (("p50", 0.5), ("p99", 0.99)):
                    value = percentile(values, fraction)
                    figures[f"{name}_{label}_ms{suffix}"] = round(value, 1) if value is not None else None
            print(f"  wake-up {'on ' if wake else 'off'}: webhook p50 {figures[f'webhook_p50_ms{suffix}']} ms, "
                  f"p99 {figures[f'webhook_p99_ms{suffix}']} ms; stream p50 {figures[f'stream_p50_ms{suffix}']} ms, "
                  f"p99 {figures[f'stream_p99_ms{suffix}']} ms")
    finally:
        wakeup.changes.enabled = True
        scheduler.shutdown(wait=False)
        receiver.server.shutdown()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    event.listen(Session, "after_flush", _flushed)
    event.listen(Session, "after_commit", _commit)
    with tempfile.TemporaryDirectory() as folder:
        url, cleanup = _database(args, Path(folder))
        try:
            upgrade(url)
            print(f"notify latency on {'PostgreSQL' if url.startswith('postgres') else 'SQLite'}, "
                  f"{args.rounds} rounds each (delivery poll 1 s, stream poll 1 s as the safety net)")
            figures = run(url, folder, args.rounds)
        finally:
            if cleanup is not None:
                cleanup()
    met = all((figures.get(f"{n}_p50_ms") or 1e9) < 50 and (figures.get(f"{n}_p99_ms") or 1e9) < 250
              for n in ("webhook", "stream"))
    print(f"  target p50 < 50 ms, p99 < 250 ms with the wake-up: {'met' if met else 'MISSED'}")
    print(json.dumps(figures))
    os._exit(0)  # the embedded worker's threads (scheduler, senders, listener) need no orderly goodbye


if __name__ == "__main__":
    main()
