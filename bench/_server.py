"""What the benchmarks share: the `voltbridge` command, a bench database, and `voltbridge web` started and stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from gateway_core.adapters.db import normalise_url

VOLTBRIDGE = str(Path(sys.executable).with_name("voltbridge"))
BENCH_DATABASE = "voltbridge_bench"
HEALTH_PATH = "/healthz"


class SetupError(RuntimeError):
    """The server or its database could not be prepared; the run has no figures."""


def voltbridge(env: dict[str, str], *args: str) -> str:
    """Run one `voltbridge` command; its standard output, or SetupError with everything it printed."""
    done = subprocess.run([VOLTBRIDGE, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SetupError(f"voltbridge {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_admin(server_url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE refuse to run inside one)."""
    engine = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    except SQLAlchemyError as exc:
        raise SetupError(f"PostgreSQL at {make_url(server_url).render_as_string()}: {exc}") from None
    finally:
        engine.dispose()


def fresh_postgres(server_url: str) -> str:
    """Recreate the bench database on the server of `server_url`, leaving that URL's own database alone."""
    drop = f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"
    postgres_admin(server_url, drop, f"CREATE DATABASE {BENCH_DATABASE}")
    return make_url(server_url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)


@contextmanager
def serve(env: dict[str, str], port: int, log_path: Path, workers: int, ready_timeout: float = 40) -> Iterator[int]:
    """`voltbridge web` with `workers` processes until the block ends; yields the master's pid.

    Its output goes to `log_path`, so an access log cannot flood the terminal; a setup failure shows its tail.
    """
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [VOLTBRIDGE, "web", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_ready(server, port, log_path, ready_timeout)
        yield server.pid
    finally:
        server.terminate()  # SIGTERM: gunicorn's graceful shutdown
        try:
            server.wait(timeout=35)  # just over gunicorn's graceful_timeout
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # the group this script started: master and workers
            server.wait()


def _wait_ready(server: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SetupError(f"voltbridge web exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    raise SetupError(f"{HEALTH_PATH} not ready after {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
