"""The dashboard's invoice list with 500,000 invoices in one store, on SQLite and PostgreSQL (issue 22).

Seeds the store fast (bulk Core inserts of plausible rows, the invoice indexes built after the load, no API),
serves the app with `voltbridge web` (gunicorn, one worker), signs in over HTTP as the store's owner and
measures the p95 latency of GET /dashboard/stores/<id>/invoices for four cases: the first page, a deep page
(the cursor of the 400,000th invoice), a filter (status=underpaid, 2% of the invoices) and a search (a
customer's email, ~10 invoices). Then streams the full CSV export and samples the gunicorn worker's resident
memory (/proc/<pid>/status) while it does. Targets: p95 < 150 ms, RSS growth < 50 MB.

    .venv/bin/python bench/dashboard.py [--invoices 500000] [--samples 40] [--databases sqlite,postgresql]

PostgreSQL: TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test), in a schema of its own,
dropped afterwards. PostgreSQL's statistics are gathered after the load (autovacuum would); SQLite gets none.
Prints the figures, then one JSON object as the last line. The machine's other work skews every figure.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, select, text

from bridge.migrate import upgrade
from gateway_core.accounts.members import create_store_for
from gateway_core.accounts.users import create_user
from gateway_core.adapters.db import normalise_url
from gateway_core.adapters.models import Invoice
from gateway_core.bootstrap import build_services
from gateway_core.config import Settings
from gateway_core.invoices.listing import encode_cursor

VOLTBRIDGE = str(Path(sys.executable).with_name("voltbridge"))
EMAIL, PASSWORD = "bench@shop.test", "correct horse battery staple"
TARGET_P95_MS, TARGET_RSS_MB = 150.0, 50.0
DEEP_ROW = 400_000
# A busy shop's year: mostly settled or expired, a few open or underpaid; customers come back (~10 invoices
# an email); four contracts and three storefronts.
START, SPAN, CUSTOMERS = datetime(2026, 1, 1, tzinfo=UTC), timedelta(days=365), 50_000
STATUSES = [("settled", 45), ("expired", 38), ("pending", 5), ("cancelled", 4), ("underpaid", 2), ("paid", 2),
            ("confirmed", 2), ("partially_paid", 2)]
CONTRACTS = [("voltxt", 85), ("virtexgate", 5), ("veltpay", 5), ("venta", 5)]
PLATFORMS = [("woocommerce", 60), ("saleor", 20), ("shopify", 15), (None, 5)]
ASSETS = [("USDC", 50), ("SOL", 30), ("USDT", 20)]
PAID = {"settled", "paid", "confirmed", "underpaid", "partially_paid"}
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class SetupError(RuntimeError):
    """The database or the server could not be prepared: the run has no figures."""


def _picker(rng: random.Random, table: list[tuple[Any, int]]) -> Any:
    values, weights = [v for v, _ in table], [w for _, w in table]
    return lambda: rng.choices(values, weights=weights)[0]


def invoice_rows(store_id: int, count: int, seed: int = 22) -> Iterator[dict[str, Any]]:
    """`count` invoice rows, oldest first, created evenly over a year."""
    rng = random.Random(seed)
    status, contract, platform, asset = (_picker(rng, t) for t in (STATUSES, CONTRACTS, PLATFORMS, ASSETS))
    step = SPAN / count
    for i in range(count):
        created, state, paid_in = START + step * i, status(), asset()
        paid, fiat_minor = state in PAID, rng.randint(500, 50_000)
        yield {"number": "".join(rng.choices(ALPHABET, k=14)), "store_id": store_id, "kind": "invoice",
               "contract": contract(), "external_id": f"order-{i + 1}", "platform": platform(),
               "network": "sandbox", "status": state, "overpaid": False, "paid_late": False, "amount_type": "fiat",
               "price_currency": "USD", "price_units": fiat_minor, "fiat_currency": "USD", "fiat_minor": fiat_minor,
               "request_fingerprint": "0" * 64, "customer_email": f"customer{rng.randrange(CUSTOMERS)}@example.com",
               "customer_name": "Bench Buyer", "chosen_asset": paid_in if paid or rng.random() < 0.5 else None,
               "paid_asset": paid_in if paid else None, "created_at": created, "updated_at": created,
               "expires_at": created + timedelta(hours=24),
               "paid_at": created + timedelta(minutes=5) if paid else None}


def seed(engine: Engine, store_id: int, count: int, batch: int = 10_000) -> float:
    """Insert the rows with the invoice indexes dropped, then build them (as a bulk load would); seconds taken."""
    started = time.perf_counter()
    table = Invoice.__table__
    indexes = list(table.indexes)  # type: ignore[attr-defined]
    with engine.begin() as connection:
        for index in indexes:
            index.drop(connection)
    statement = insert(table)  # type: ignore[arg-type]
    rows = invoice_rows(store_id, count)
    while chunk := [row for _, row in zip(range(batch), rows, strict=False)]:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            connection.execute(statement, chunk)
    with engine.begin() as connection:
        for index in indexes:
            index.create(connection)
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE invoices")
    return time.perf_counter() - started


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A migrated empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        yield url
        return
    server = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    schema = f"bench_dashboard_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(normalise_url(server))
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def prepare(url: str, workdir: Path, count: int) -> tuple[int, str, str, float]:
    """The owner's account, their store and its invoices: the store id, the deep page's cursor, the email of that
    invoice's customer (the search) and the seconds seeding took."""
    svc = build_services(Settings.from_env({}, instance_path=str(workdir), database_url=url, secret_key="b" * 32))
    assert svc.engine is not None
    with svc.uow() as uow:
        owner = create_user(uow, EMAIL, PASSWORD, admin=True)
        store_id = create_store_for(uow, svc.vault, owner.id, name="Bench Shop", network="sandbox").id
    seconds = seed(svc.engine, store_id, count)
    with svc.engine.connect() as connection:
        row = connection.execute(
            select(Invoice.created_at, Invoice.id, Invoice.customer_email).where(Invoice.store_id == store_id)
            .order_by(Invoice.created_at.desc(), Invoice.id.desc())
            .offset(min(DEEP_ROW, count * 4 // 5)).limit(1)).one()  # once, to find the deep page's cursor
    svc.engine.dispose()
    return store_id, encode_cursor(row.created_at, row.id), row.customer_email, seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(url: str, workdir: Path) -> Iterator[tuple[int, int]]:
    """`voltbridge web` with one worker; yields its port and the worker's pid."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_PATH": str(workdir), "SECRET_KEY": "b" * 32,
           "PUBLIC_URL": f"http://127.0.0.1:{port}", "LOG_LEVEL": "WARNING", "RATE_SOURCES": "fixed"}
    log_path = workdir / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([VOLTBRIDGE, "web", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                                    "--threads", "4"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"voltbridge web did not start:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        yield port, int(children[0])
    finally:
        process.terminate()
        try:
            process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this script started
            process.wait()


def signed_in(port: int) -> urllib.request.OpenerDirector:
    """A browser's cookie jar, signed in through the sign-in form (with its CSRF token)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    base = f"http://127.0.0.1:{port}/dashboard/sign-in"
    form = opener.open(base, timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    if token is None:
        raise SetupError("no CSRF token on the sign-in page")
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD}).encode()
    with opener.open(urllib.request.Request(base, data=body), timeout=30) as answer:
        if not answer.geturl().rstrip("/").endswith("/dashboard"):
            raise SetupError(f"sign-in ended at {answer.geturl()}")
    return opener


def p95_ms(opener: urllib.request.OpenerDirector, url: str, samples: int) -> float:
    """The 95th percentile of `samples` sequential GETs (after three unmeasured ones)."""
    timings = []
    for n in range(samples + 3):
        started = time.perf_counter()
        with opener.open(url, timeout=60) as answer:
            page = answer.read()
            if answer.status != 200 or b"<table" not in page:
                raise SetupError(f"{url} answered {answer.status} without a table")
        if n >= 3:
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings[max(0, int(len(timings) * 0.95 + 0.5) - 1)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def export_growth(opener: urllib.request.OpenerDirector, url: str, pid: int) -> tuple[float, int, float]:
    """The worker's RSS growth (MB) while the CSV export streams, the data lines read and the seconds taken."""
    baseline, peak, done = rss_mb(pid), 0.0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, lines = time.perf_counter(), 0
    try:
        with opener.open(url, timeout=600) as answer:
            while chunk := answer.read(1 << 16):
                lines += chunk.count(b"\n")
    finally:
        done.set()
        sampler.join()
    return max(0.0, peak - baseline), lines - 1, time.perf_counter() - started


def measure(kind: str, count: int, samples: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-dashboard-{kind}-"))
    try:
        with database(kind, workdir) as url:
            store_id, deep, email, seeded = prepare(url, workdir, count)
            print(f"{kind}: {count:,} invoices seeded in {seeded:.0f} s", flush=True)
            with server(url, workdir) as (port, pid):
                opener = signed_in(port)
                base = f"http://127.0.0.1:{port}/dashboard/stores/{store_id}/invoices"
                cases = {"first_page": base, "deep_page": f"{base}?after={deep}", "filter": f"{base}?status=underpaid",
                         "search": f"{base}?{urllib.parse.urlencode({'q': email})}"}
                figures = {f"{case}_{kind}_p95_ms": round(p95_ms(opener, path, samples), 1)
                           for case, path in cases.items()}
                for key, value in figures.items():
                    print(f"  {key.removesuffix('_p95_ms'):28} p95 {value:7.1f} ms", flush=True)
                growth, lines, seconds = export_growth(opener, f"{base}/export.csv", pid)
                if lines != count:
                    raise SetupError(f"the export had {lines} rows, not {count}")
                print(f"  full CSV export: {lines:,} rows in {seconds:.0f} s, worker RSS grew {growth:.1f} MB",
                      flush=True)
                figures[f"export_rss_growth_mb_{kind}"] = round(growth, 1)
                return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=500_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    result: dict[str, float | int] = {"invoices": args.invoices}
    try:
        for kind in args.databases.split(","):
            result.update(measure(kind.strip(), args.invoices, args.samples))
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    growths = [v for k, v in result.items() if k.startswith("export_rss_growth_mb_")]
    result["export_rss_growth_mb"] = max(growths)
    slow = [k for k, v in result.items() if k.endswith("_p95_ms") and v >= TARGET_P95_MS]
    print(f"targets: p95 < {TARGET_P95_MS:.0f} ms {'met' if not slow else 'MISSED: ' + ', '.join(slow)}; "
          f"export RSS growth < {TARGET_RSS_MB:.0f} MB {'met' if max(growths) < TARGET_RSS_MB else 'MISSED'} "
          f"(a shared, noisy machine: figures vary run to run)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
