"""Issue 4 point 10: bench/webhook_dispatch.py runs end to end on each backend and ends with its JSON figures.

The figures themselves depend on the machine (the acceptance run is `make bench`); here a small load checks that
every delivery arrives in every run and that the last line carries the fields the acceptance point names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, PG_URL

BENCH = Path(__file__).resolve().parents[2] / "bench" / "webhook_dispatch.py"
# Enough for six sends to the dead endpoint and a stream of several steps: each delivery costs the bench's
# processes about 30 ms of CPU, and at 300 this test alone took a tenth of the suite's CPU time.
DELIVERIES = 60


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_benchmark_delivers_everything_and_prints_its_figures_last(backend: str) -> None:
    command = [sys.executable, str(BENCH), "--deliveries", str(DELIVERIES), "--rate", "100"]
    env = {"PATH": "/usr/bin:/bin"}
    if backend == "postgresql":
        assert PG_URL
        command += ["--database-url", PG_URL]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert f"on {backend}:" in lines[0]
    assert f"({DELIVERIES} in " in lines[1] and f"({DELIVERIES} in " in lines[2]  # all arrived, with and without
    figures = json.loads(lines[-1])
    assert figures["backend"] == backend and figures["receiver_keep_alive"] is True
    assert figures["deliveries_per_s"] > 0 and figures["deliveries_per_s_with_dead_endpoint"] > 0
    assert 0 <= figures["p99_added_delay_s"] < 30  # finite: the dead endpoint's 30 s timeout never held them
    assert figures["target_deliveries_per_s"] == 300 and figures["target_p99_added_delay_s"] == 1
