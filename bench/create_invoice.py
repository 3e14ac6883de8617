"""VOLTXT create-invoice throughput and latency against the trivial GET /healthz, on one gunicorn server.

Each create carries the body the official OpenCart client sends (return URLs with [session_id], a callback
URL, metadata, the customer and a description). Floors (issue 17): create >= 0.25x the /healthz rate of the
same run on SQLite and >= 0.20x on PostgreSQL, p99 < 120 ms, 32 clients.

Serves the app with `voltbridge web --workers 2` on PostgreSQL (database `voltbridge_bench`, recreated each
run on the TEST_DATABASE_URL server) or on a temporary SQLite file, then drives both endpoints with the same
load generator at the same concurrency: wrk when installed (`apt-get install wrk`), else an asyncio client.

    make bench                                    # or: .venv/bin/python bench/create_invoice.py --seconds 5
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test make bench

Prints human-readable figures, then one JSON object as the last line. Where /proc is readable (Linux) it also
splits each phase's CPU per request between the gunicorn processes, the PostgreSQL server and the whole box:
with all three on one machine, the ratio can only be met if a create costs the box at most 1/ratio times
what a trivial request does. Missed targets do not fail the run; setup failures and request errors (any
status other than the expected 201/200) exit non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from _server import (
    BENCH_DATABASE,
    HEALTH_PATH,
    SetupError,
    free_port,
    fresh_postgres,
    postgres_admin,
    serve,
    voltbridge,
)
from sqlalchemy import create_engine, text

from gateway_core.adapters.db import normalise_url

CREATE_PATH = "/api/plugin/invoice/create"
# Floors of issue 17, guarding the one write path (not targets to tune for): create at least this share of the
# /healthz rate in the same run, and a p99 under TARGET_P99_MS, with 32 clients sharing the box with the server.
TARGET_RATIOS = {"sqlite": 0.25, "postgresql": 0.20}
TARGET_P99_MS = 120.0
# What the official OpenCart client sends (shared/specs/voltxt-observed-clients.md): return URLs with the
# [session_id] placeholder, a callback URL, metadata, the customer and a description. EXTERNAL_ID is replaced.
SHOP = "https://shop.example/index.php?route=extension/voltxt/payment/voltxt"
OPENCART_BODY = {
    "api_key": "API_KEY", "platform": "opencart", "external_invoice_id": "EXTERNAL_ID", "amount": "19.99",
    "amount_type": "fiat", "fiat_currency": "USD", "network": "testnet", "expiry_hours": 24,
    "description": "Order #EXTERNAL_ID from Demo Store", "customer_name": "Jane Buyer",
    "customer_email": "jane.buyer@example.com", "callback_url": f"{SHOP}.callback",
    "success_url": f"{SHOP}.success&session_id=[session_id]", "cancel_url": f"{SHOP}.cancel&session_id=[session_id]",
    "metadata": {"order_id": "EXTERNAL_ID", "store_name": "Demo Store", "plugin_version": "1.2.0",
                 "opencart_version": "4.0.2.3", "currency_code": "USD", "customer_id": 42},
}

# wrk calls request() per request, so each thread numbers its own ids; thread ids keep threads apart and
# the prefix keeps phases (warm-up, measured) apart. There is no response() hook: with one, wrk parses every
# response in Lua, and the load generator shares the server's two cores. wrk counts any status outside
# 2xx/3xx as an error, and measure() counts the invoices the create phase stored, one per request.
WRK_SCRIPT = r"""
local threads, next_tid = {}, 1

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  api_key, template, sent = args[3], args[4], 0
  prefix = args[2] .. "-" .. tid .. "-"
  if api_key == nil or api_key == "" then fixed = wrk.format("GET") end
end

function request()
  if fixed then return fixed end
  sent = sent + 1
  local body = template:gsub("EXTERNAL_ID", prefix .. sent)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.status + e.connect + e.read + e.write + e.timeout
  local line = 'BENCH {"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %f, "p99_us": %f}\n'
  io.write(string.format(line, summary.requests, summary.duration, errors,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Load:
    """One endpoint under load: GET /healthz (no api_key) or POST create with unique external ids."""

    path: str
    expected_status: int
    api_key: str = ""

    def template(self) -> str:
        """The OpenCart create body for this key, with EXTERNAL_ID where each request's own id goes."""
        return json.dumps(OPENCART_BODY).replace("API_KEY", self.api_key)

    def body(self, external_id: str) -> bytes:
        return self.template().replace("EXTERNAL_ID", external_id).encode()


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Figures:
    created: Result
    baseline: Result
    warmup_errors: int
    load_average: float  # the 1-minute load when the run ended: other work on the box skews every figure
    created_cpu: CpuSplit | None = None
    baseline_cpu: CpuSplit | None = None


Generator = Callable[[int, Load, float, int, str], Result]


# -- load generators ---------------------------------------------------------------------------------------


def run_wrk(port: int, load: Load, seconds: float, concurrency: int, prefix: str) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        # Two threads, one per core (wrk needs a connection per thread): its event loops stay far from
        # being the bottleneck.
        command = ["wrk", f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
                   "--timeout", "10s", "-s", script.name, f"http://127.0.0.1:{port}{load.path}", "--",
                   str(load.expected_status), prefix, load.api_key, load.template() if load.api_key else ""]
        done = subprocess.run(command, capture_output=True, text=True)
    finally:
        os.unlink(script.name)
    if done.returncode != 0:
        raise SetupError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    output = done.stdout
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise SetupError(f"wrk printed no summary:\n{output}")
    data = json.loads(line.removeprefix("BENCH "))
    return Result(data["requests"], data["errors"], data["duration_us"] / 1e6,
                  data["p50_us"] / 1000, data["p99_us"] / 1000)


async def _read_status(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(ln.split(":", 1)[1]) for ln in lines if ln.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _asyncio_load(port: int, load: Load, seconds: float, concurrency: int, prefix: str) -> Result:
    ids = itertools.count()
    latencies: list[float] = []
    errors = 0

    def next_request() -> bytes:
        if not load.api_key:
            return f"GET {load.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        body = load.body(f"{prefix}-{next(ids)}")
        return (f"POST {load.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def client(deadline: float) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                writer.write(next_request())
                status = await _read_status(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                # A dropped keep-alive connection is an error for this request; carry on with a new one.
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - started)
            errors += status != load.expected_status
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(started + seconds) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0.0

    return Result(len(latencies), errors, elapsed, percentile(0.50), percentile(0.99))


def run_asyncio(port: int, load: Load, seconds: float, concurrency: int, prefix: str) -> Result:
    return asyncio.run(_asyncio_load(port, load, seconds, concurrency, prefix))


# -- the server ----------------------------------------------------------------------------------------


def check_create(port: int, load: Load) -> None:
    """One create by hand, so a wrong key or a broken endpoint fails loudly before any load."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{load.path}", data=load.body("bench-check"),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    if status != load.expected_status:
        raise SetupError(f"create returned {status}, expected {load.expected_status}: {text[:500]}")


# -- where the CPU goes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSplit:
    """CPU per answered request during one phase, from /proc: the gunicorn processes, the PostgreSQL
    server's processes (SQLite runs inside gunicorn's), and the whole box (load generator and kernel too)."""

    server_us: float
    database_us: float
    box_us: float
    box_busy: float  # share of the box's CPU time that was busy


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _processes(match: Callable[[int, str, int], bool]) -> list[int]:
    """Pids whose (pid, command name, parent pid) match."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name, rest = (entry / "stat").read_text().split(" (", 1)[1].rsplit(")", 1)
            except (OSError, ValueError):
                continue
            if match(int(entry.name), name, int(rest.split()[1])):
                found.append(int(entry.name))
    return found


def _box_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole box since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def cpu_split(server_pid: int, phase: Callable[[], Result]) -> tuple[Result, CpuSplit | None]:
    """Run one measured phase and split its CPU (None where /proc cannot tell, off Linux say)."""
    if not Path("/proc/stat").exists():
        return phase(), None
    server = _processes(lambda pid, _name, parent: pid == server_pid or parent == server_pid)
    database = _processes(lambda _pid, name, _parent: name == "postgres")
    before = _process_ticks(server), _process_ticks(database), _box_ticks()
    result = phase()
    after = _process_ticks(server), _process_ticks(database), _box_ticks()
    per_request = 1e6 / _TICK / max(1, result.requests)
    busy, total = after[2][0] - before[2][0], after[2][1] - before[2][1]
    return result, CpuSplit((after[0] - before[0]) * per_request, (after[1] - before[1]) * per_request,
                            busy * per_request, busy / total if total else 0.0)


# -- the run -----------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, env: dict[str, str], generate: Generator) -> Figures:
    store = voltbridge(env, "store", "create", "--name", "Bench", "--network", "sandbox", "--json")
    create = Load(CREATE_PATH, 201, json.loads(store)["api_key"])
    health = Load(HEALTH_PATH, 200)
    port = free_port()
    with serve(env, port, Path(env["INSTANCE_PATH"]) / "gunicorn.log", workers=2) as server:
        check_create(port, create)
        # Warm-up: imports, connection pools, SQLAlchemy's statement caches, the OS page cache.
        warm = [generate(port, load, args.warmup, args.concurrency, "warm") for load in (create, health)]
        baseline, baseline_cpu = cpu_split(
            server, lambda: generate(port, health, args.seconds, args.concurrency, "run"))
        created, created_cpu = cpu_split(
            server, lambda: generate(port, create, args.seconds, args.concurrency, "run"))
    # Every answered create must have stored its own invoice (an answer of 200 would be a retry's).
    missing = max(0, created.requests - stored_invoices(env["DATABASE_URL"], "run-"))
    created = replace(created, errors=created.errors + missing)
    return Figures(created, baseline, sum(r.errors for r in warm), os.getloadavg()[0], created_cpu, baseline_cpu)


def stored_invoices(database_url: str, prefix: str) -> int:
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM invoices WHERE external_id LIKE :pattern")
            return int(conn.execute(query, {"pattern": prefix + "%"}).scalar_one())
    finally:
        engine.dispose()


def report(args: argparse.Namespace, database: str, generator: str, figures: Figures) -> int:
    created, baseline = figures.created, figures.baseline
    ratio = created.rps / baseline.rps if baseline.rps else 0.0
    errors = created.errors + baseline.errors + figures.warmup_errors
    target_ratio = TARGET_RATIOS[database]
    ratio_met, p99_met = ratio >= target_ratio, created.p99_ms < TARGET_P99_MS
    print(f"voltbridge web (gunicorn, 2 gthread workers) on {database}; {generator}, "
          f"{args.concurrency} clients, {args.seconds:g} s per phase after {args.warmup:g} s warm-up")
    for name, result in ((f"GET {HEALTH_PATH}", baseline), (f"POST {CREATE_PATH}", created)):
        print(f"  {name:<34} {result.rps:8.1f} req/s   p50 {result.p50_ms:6.1f} ms   "
              f"p99 {result.p99_ms:6.1f} ms   ({result.requests} requests, {result.errors} errors)")
    verdict = {True: "met", False: "MISSED"}
    print(f"  create/baseline ratio {ratio:.2f}   floor >= {target_ratio}: {verdict[ratio_met]}")
    print(f"  create p99 {created.p99_ms:.1f} ms   floor < {TARGET_P99_MS:g} ms: {verdict[p99_met]}")
    if figures.warmup_errors:
        print(f"  warm-up errors: {figures.warmup_errors}")
    print(f"  load average {figures.load_average:.1f} on {os.cpu_count()} CPUs "
          "(server, database and client share them)")
    cpu: dict[str, float] = {}
    if figures.created_cpu and figures.baseline_cpu:
        for name, split in (("baseline", figures.baseline_cpu), ("create", figures.created_cpu)):
            print(f"  CPU per {name} request: server {split.server_us:6.0f} us   database {split.database_us:5.0f} us"
                  f"   whole box {split.box_us:6.0f} us   (box {split.box_busy:.0%} busy)")
            cpu |= {f"{name}_server_cpu_us": round(split.server_us), f"{name}_database_cpu_us":
                    round(split.database_us), f"{name}_box_cpu_us": round(split.box_us),
                    f"{name}_box_busy": round(split.box_busy, 3)}
        # At a full box, the ratio is the inverse of the CPU ratio: it is met only if a create costs the box
        # at most twice what the trivial request does, and the database server's share is part of that.
        budget, created_cpu = figures.baseline_cpu.box_us / target_ratio, figures.created_cpu
        spent = (f"the database server alone spent {created_cpu.database_us:.0f} us of each"
                 if created_cpu.database_us else f"each cost it {created_cpu.box_us:.0f} us")
        print(f"  ratio {target_ratio} needs a create to cost the box at most {budget:.0f} us; {spent}")
    print(json.dumps({
        "create_rps": round(created.rps, 1), "baseline_rps": round(baseline.rps, 1), "ratio": round(ratio, 3),
        "p50_ms": round(created.p50_ms, 2), "p99_ms": round(created.p99_ms, 2),
        "baseline_p50_ms": round(baseline.p50_ms, 2), "baseline_p99_ms": round(baseline.p99_ms, 2),
        "create_requests": created.requests, "baseline_requests": baseline.requests, "errors": errors,
        "concurrency": args.concurrency, "database": database, "generator": generator,
        "duration": args.seconds, "ratio_target": target_ratio, "p99_target_ms": TARGET_P99_MS,
        "ratio_target_met": ratio_met, "p99_target_met": p99_met,
        "load_average": round(figures.load_average, 2), "cpus": os.cpu_count(), **cpu,
    }))
    return 1 if errors else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=8, help="measured duration of each phase")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up duration of each endpoint")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--generator", choices=("auto", "wrk", "asyncio"), default="auto")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    # Let SIGTERM unwind like Ctrl-C, so the server is stopped by the `finally` blocks either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    use_wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk") is not None)
    generator, generate = ("wrk", run_wrk) if use_wrk else ("python-asyncio", run_asyncio)
    server_url = os.environ.get("TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="voltbridge-bench-") as instance:
        try:
            database_url = fresh_postgres(server_url) if server_url else f"sqlite:///{instance}/bench.db"
            # One key drives the whole load: its budget (600 a minute by default) would turn the run into 429s.
            env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_urlsafe(32),
                   "INSTANCE_PATH": instance, "LOG_LEVEL": "WARNING", "VOLTXT_RATE_LIMIT_PER_MINUTE": "100000000"}
            voltbridge(env, "db", "upgrade")
            figures = measure(args, env, generate)
            if server_url:  # only after a good run: a failed run's database stays for inspection
                postgres_admin(server_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        except (SetupError, OSError) as exc:
            print(f"benchmark setup failed: {exc}", file=sys.stderr)
            return 2
    return report(args, "postgresql" if server_url else "sqlite", generator, figures)


if __name__ == "__main__":
    sys.exit(main())
