"""`voltbridge web` (gunicorn, two processes) beside `voltbridge worker`, as production runs them (issue 23):
/readyz turns ready once the worker's heartbeat is in, and one /metrics scrape counts the requests every
gunicorn process answered (prometheus_client's multiprocess mode). SQLite: the processes share the file.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_venta_gunicorn import START_SECONDS, env, migrated, processes, start, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(180)


def _until(condition, what: str, seconds: float = START_SECONDS):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcome = condition()
        if outcome:
            return outcome
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s: {what}")


def test_readiness_and_metrics_across_gunicorn_processes(env, tmp_path: Path, processes) -> None:  # noqa: F811
    migrated(env)
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    base = env["PUBLIC_URL"]
    web = start(env, tmp_path, "web", "web", "--host", "127.0.0.1", "--port", env["PORT"], "--workers", "2",
                "--threads", "4")
    processes.append(web)
    wait_ready(base, web, tmp_path / "web.log")
    unready = requests.get(f"{base}/readyz", timeout=5)
    assert unready.status_code == 503 and "heartbeat" in unready.json()["reason"]

    processes.append(start(env, tmp_path, "worker", "worker"))
    _until(lambda: requests.get(f"{base}/readyz", timeout=5).status_code == 200, "the worker's heartbeat")

    for _ in range(40):  # new connections: the kernel spreads them over both processes (SO_REUSEPORT)
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    text = requests.get(f"{base}/metrics", timeout=5).text
    answered = sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == "voltbridge_http_requests_total"
                   and sample.labels == {"contract": "health", "endpoint": "/healthz", "status": "200"})
    assert answered >= 40
    assert len(list((tmp_path / "metrics").glob("counter_*.db"))) == 2  # both processes counted
    assert "voltbridge_worker_heartbeat_timestamp_seconds" in text
