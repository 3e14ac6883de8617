"""Where a VOLTXT create spends its time, in-process: CPU ms per create, round trips per create, the profile.

Builds the app in this process (create_app, as a gunicorn worker does) on a temporary SQLite file or, with
TEST_DATABASE_URL, on a fresh `voltbridge_bench` database of that PostgreSQL server, and sends the exact body
bench/create_invoice.py sends through Flask's test client, one request at a time. CPU time is the process's
(time.process_time, the least per request over batches of 25), so it is far steadier than the throughput
figures on a shared box; the test client's own
cost is measured the same way on /healthz and reported beside it. Round trips are counted by a SQLAlchemy
before_cursor_execute listener.

    .venv/bin/python bench/profile_create.py --requests 500 --top 30
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/profile_create.py

The last line is one JSON object: `database`, `create_cpu_ms`, `healthz_cpu_ms`, `round_trips`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from typing import Any

from _server import BENCH_DATABASE, SetupError, fresh_postgres, postgres_admin, voltbridge
from create_invoice import CREATE_PATH, HEALTH_PATH, Load
from sqlalchemy import event


def _app(env: dict[str, str]) -> Any:
    os.environ.update(env)
    from bridge import create_app
    from bridge.extensions import db

    app = create_app()
    with app.app_context():
        engine = db.engine
    return app, engine


def run(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    store = json.loads(voltbridge(env, "store", "create", "--name", "Bench", "--network", "sandbox", "--json"))
    create = Load(CREATE_PATH, 201, store["api_key"])
    app, engine = _app(env)
    client = app.test_client()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    ids = iter(range(10**9))

    def one_create() -> None:
        response = client.post(CREATE_PATH, data=create.body(f"p-{next(ids)}"),
                               headers={"Content-Type": "application/json"})
        if response.status_code != 201:
            raise SetupError(f"create returned {response.status_code}: {response.get_data(as_text=True)[:500]}")

    def one_health() -> None:
        if client.get(HEALTH_PATH).status_code != 200:
            raise SetupError("/healthz did not answer 200")

    for _ in range(args.warmup):  # imports, pools, statement caches, the key cache
        one_create()
        one_health()
    statements.clear()
    one_create()
    trips = len(statements)
    sample = list(statements)

    def cpu_ms(call: Any, n: int, batch: int = 25) -> float:
        """The least CPU per request over batches: other work on a shared box only ever adds to it."""
        best = float("inf")
        for _ in range(max(1, n // batch)):
            started = time.process_time()
            for _ in range(batch):
                call()
            best = min(best, (time.process_time() - started) * 1000 / batch)
        return best

    health_ms = cpu_ms(one_health, args.requests)
    create_ms = cpu_ms(one_create, args.requests)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        one_create()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
    stats.print_stats(args.top)
    if args.callees:
        stats.print_callees(args.callees)
    if args.dump:
        stats.dump_stats(args.dump)
    print(out.getvalue())
    print("statements of one create:")
    for statement in sample:
        print("  ", " ".join(statement.split())[:160])
    return {"create_cpu_ms": round(create_ms, 3), "healthz_cpu_ms": round(health_ms, 3), "round_trips": trips}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=400, help="creates measured (and as many profiled)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--top", type=int, default=35, help="profile lines printed")
    parser.add_argument("--callees", help="also print what the functions matching this pattern call")
    parser.add_argument("--dump", help="also write the profile to this file (pstats format)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime, ...)")
    args = parser.parse_args()
    server_url = os.environ.get("TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="voltbridge-profile-") as instance:
        try:
            database_url = fresh_postgres(server_url) if server_url else f"sqlite:///{instance}/bench.db"
            env = {"DATABASE_URL": database_url, "SECRET_KEY": secrets.token_urlsafe(32), "INSTANCE_PATH": instance,
                   "LOG_LEVEL": "WARNING", "VOLTXT_RATE_LIMIT_PER_MINUTE": "100000000"}
            voltbridge({**os.environ, **env}, "db", "upgrade")
            figures = run(args, {**os.environ, **env})
            if server_url:
                postgres_admin(server_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        except (SetupError, OSError) as exc:
            print(f"profile setup failed: {exc}", file=sys.stderr)
            return 2
    print(json.dumps({"database": "postgresql" if server_url else "sqlite", **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
