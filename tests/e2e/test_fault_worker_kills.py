"""Fault loop (issue 23 point 7): `voltbridge worker` killed with SIGKILL 10 times at random moments during a
300-payment sandbox burst, with store webhooks (a real receiver on 127.0.0.1) and merchant emails (a real SMTP
server) pending; restarted after each kill (a fresh process forked from one that has done the imports, so ten
restarts cost milliseconds, not ten interpreter start-ups: tests/e2e/worker_zygote.py).

Afterwards every payment is recorded once, every invoice is settled with each status reached once, and every
delivery arrived at least once with its event id (a resend is allowed, at least once by design, and is the same
message). On SQLite too: `voltbridge worker` beside the embedded database shares the file's write lock, and a
killed process's lock is released by the kernel.
"""

from __future__ import annotations

import logging
import random
import resource
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway_core.bootstrap import Services, build_services
from tests.e2e.fault_support import (
    Workers,
    account,
    create_burst,
    done,
    progress,
    send,
    shuffled,
    tails,
    wait_until,
    worker_env,
)
from tests.fakes.receiver import Receiver
from tests.fakes.smtp import SmtpServer
from tests.integration.notify_support import notify_settings_for

INVOICES = 150
PAYMENTS = 2 * INVOICES
KILLS = 10
SEED = 23
BOUND_SECONDS = 240.0  # the whole loop (pytest-timeout is 300 s); a healthy run takes a fraction of it

log = logging.getLogger(__name__)


@pytest.fixture
def wall_services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    """On the wall clock, like the worker processes."""
    svc = build_services(notify_settings_for(database_url, tmp_path))
    yield svc
    if svc.engine is not None:
        svc.engine.dispose()


def test_worker_killed_10_times_during_a_300_payment_burst_loses_nothing(
        wall_services: Services, tmp_path: Path) -> None:
    svc = wall_services
    rng = random.Random(SEED)
    began = time.monotonic()
    bound = began + BOUND_SECONDS
    with Receiver() as receiver, SmtpServer() as smtp:
        receiver.default.delay = 0.02  # requests stay in flight long enough for a kill to land among them
        workers = Workers(worker_env(svc, tmp_path, "worker", smtp.url), tmp_path)  # imports while we create
        transfers = shuffled(create_burst(svc, INVOICES, receiver.url("/store")), SEED)
        chunks = [transfers[k * PAYMENTS // KILLS:(k + 1) * PAYMENTS // KILLS] for k in range(KILLS)]
        pid, log_path = workers.spawn("worker")
        logs = [log_path, tmp_path / "zygote.log"]
        interrupted = []
        sent, worker_cpu = 0, 0.0
        try:
            for k, chunk in enumerate(chunks):
                send(svc, chunk)
                sent += len(chunk)
                before = progress(svc)
                # The random moment: after a random amount of work by this incarnation, on the watcher's side
                # (payments recorded) or the dispatcher's (deliveries delivered), or once it has nothing left.
                key = ("payments", "deliveries_delivered")[k % 2]
                target = before.get(key, 0) + rng.randint(1, 30)

                def moment(key: str = key, target: int = target, sent: int = sent) -> bool:
                    now = progress(svc)
                    idle = now["payments"] == now["final"] == sent and now["deliveries"] == now.get(
                        "deliveries_delivered", 0)
                    return now.get(key, 0) >= target or idle

                wait_until(moment, bound - time.monotonic(), f"kill {k + 1}'s moment", logs)
                assert workers.alive(pid), f"the worker died by itself before kill {k + 1}\n{tails(logs)}"
                worker_cpu += workers.cpu_seconds(pid)
                assert workers.end(pid, signal.SIGKILL), "a killed worker lingers"
                at_kill = progress(svc)
                interrupted.append({k: v for k, v in at_kill.items() if k in ("payments", "deliveries_sending",
                                                                              "deliveries_pending")}
                                   | {"at": round(time.monotonic() - began, 1)})
                pid, _ = workers.spawn("worker")
            wait_until(lambda: done(svc, PAYMENTS, INVOICES), bound - time.monotonic(),
                       "every payment recorded, every invoice settled, every delivery delivered", logs)
            assert workers.alive(pid), tails(logs)
            worker_cpu += workers.cpu_seconds(pid)
            finished = time.monotonic() - began
        finally:
            workers.close([pid])
        result = account(svc, transfers, receiver, smtp)

    line = (f"worker kill loop ({svc.settings.database_url.split(':')[0]}): kills={KILLS} {result.line()} "
            f"seconds={finished:.1f} worker_cpu_seconds={worker_cpu:.1f} "
            f"test_cpu_seconds={sum(resource.getrusage(resource.RUSAGE_SELF)[:2]):.1f}")
    log.warning(line)
    print(f"\n{line}\nat each kill: {interrupted}")
    assert result.payments == PAYMENTS, line
    assert not result.lost, f"{line}: lost {result.lost[:10]}"
    assert result.duplicated_payments == 0, line
    assert not result.problems, f"{line}: {result.problems[:10]}"
    assert any(i.get("deliveries_sending") for i in interrupted), f"no kill landed mid-dispatch: {interrupted}"
