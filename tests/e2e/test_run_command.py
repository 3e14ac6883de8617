"""`voltbridge run` end to end, as a merchant first meets it: a fresh instance folder, the printed API key and
curl command, a simulated payment, and the invoice reaching settled — with no API key in any log line.

SQLite only: the embedded mode's default database is the SQLite file under INSTANCE_PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway_core.bootstrap import build_services
from gateway_core.config import Settings
from gateway_core.payments.sandbox import simulate_payment

KEY_LINE = re.compile(r"^API key \(shown once, keep it\): (\S+)$", re.MULTILINE)
CURL_LINE = re.compile(r"^\s*(curl .*)$", re.MULTILINE)
SERVING = "voltbridge is serving on"
START_SECONDS = 45.0  # imports alone take seconds on a busy machine
SETTLE_SECONDS = 30.0


def _voltbridge() -> str:
    beside = Path(sys.executable).with_name("voltbridge")
    found = str(beside) if beside.exists() else shutil.which("voltbridge")
    if not found:
        pytest.fail("the voltbridge console script is not installed in this environment")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One `voltbridge run` process with its stdout and stderr in files (no pipe to fill up)."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str) -> None:
        self.port = _free_port()
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen([_voltbridge(), "run", "--port", str(self.port)], env=env, cwd=workdir,
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        """Until the banner is printed and /healthz answers."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"voltbridge run exited with {self.process.returncode}\n{self.stdout()}\n{self.stderr()}")
            if SERVING in self.stdout():
                try:
                    with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:
                        if response.status == 200:
                            return
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
            time.sleep(0.1)
        pytest.fail(f"voltbridge run did not start within {START_SECONDS}s\n{self.stdout()}\n{self.stderr()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def instance_env(tmp_path: Path) -> dict[str, str]:
    """A fresh instance folder and nothing that would point the command at another database or secret."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "SECRET_KEY", "FLASK_APP", "PUBLIC_URL"}}
    env.update({
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SANDBOX_FINALITY_SECONDS": "0",
        "WATCH_INTERVAL_SECONDS": "0.3",
        "EXPIRY_INTERVAL_SECONDS": "1",
        "LOG_JSON": "0",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


def test_run_prints_a_working_key_and_curl_and_a_simulated_payment_settles(
    instance_env: dict[str, str], tmp_path: Path, servers: list[Server]
) -> None:
    started = time.monotonic()
    first = Server(instance_env, tmp_path, "first")
    servers.append(first)
    first.wait_ready()
    banner = first.stdout()
    assert (tmp_path / "instance" / "voltbridge.db").exists(), "the embedded default is SQLite under INSTANCE_PATH"

    key_match = KEY_LINE.search(banner)
    assert key_match, banner
    api_key = key_match.group(1)
    assert len(api_key) == 32, api_key
    curl_match = CURL_LINE.search(banner)
    assert curl_match, banner
    curl = curl_match.group(1)
    assert f"127.0.0.1:{first.port}" in curl

    # The printed command, exactly as printed, through a shell.
    result = subprocess.run(curl, shell=True, capture_output=True, text=True, timeout=15, check=False)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["success"] is True, created
    number = created["invoice_number"]
    assert created["status"] == "pending"
    # PUBLIC_URL is unset: the payment_url follows `--port`, and opens.
    assert created["payment_url"] == f"{first.base}/pay/{number}"
    with urllib.request.urlopen(created["payment_url"], timeout=10) as page:
        assert page.status == 200 and number in page.read().decode()

    # What `voltbridge simulate pay` does (tests/integration/test_cli.py runs the command), here in this process
    # on the same instance folder: the server's worker picks the payment up, and no third Python start is paid.
    svc = build_services(Settings.from_env(instance_env))
    try:
        with svc.uow() as uow:
            simulate_payment(uow, number, svc.clock)
    finally:
        if svc.engine is not None:
            svc.engine.dispose()

    status_url = f"{first.base}/api/plugin/invoice/{number}/status?api_key={api_key}"
    deadline = time.monotonic() + SETTLE_SECONDS
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _get_json(status_url)
        assert body["success"] is True, body
        if body["lifecycle_status"] == "settled":
            break
        time.sleep(0.2)
    assert (body.get("status"), body.get("lifecycle_status")) == ("paid", "settled"), body
    settled_after = time.monotonic() - started
    first.stop()

    # A second start on the same instance keeps the store and never shows its key again.
    second = Server(instance_env, tmp_path, "second")
    servers.append(second)
    second.wait_ready()
    assert _get_json(status_url.replace(first.base, second.base))["lifecycle_status"] == "settled"
    second.stop()
    again = second.stdout()
    assert "Stores exist already" in again, again
    assert api_key not in again and not KEY_LINE.search(again) and "curl" not in again, again
    print(f"\nsettled {settled_after:.2f}s after the first start; whole run {time.monotonic() - started:.2f}s")

    # Logs: the status polls put the key in the query string; the access log shows it redacted, nowhere else.
    logs = first.stderr() + second.stderr() + again
    status_lines = [line for line in logs.splitlines() if f"/api/plugin/invoice/{number}/status" in line]
    assert status_lines and all("api_key=[redacted]" in line for line in status_lines), status_lines[:3]
    leaked = [line for line in logs.splitlines() if api_key in line]
    assert not leaked, leaked[:3]
    # The first start's stdout is the one place the key appears: its own line and the curl example.
    assert [line for line in banner.splitlines() if api_key in line] == [key_match.group(0), curl_match.group(0)]
