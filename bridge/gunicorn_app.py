"""`voltbridge web`: gunicorn in-process, threaded workers, the app built in each worker after fork."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from bridge import app_from_env


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return app_from_env()


def metrics_directory() -> str:
    """PROMETHEUS_MULTIPROC_DIR, made and emptied before any worker starts: each gunicorn worker writes its
    counters there and a scrape of any worker adds them all up (prometheus_client's multiprocess mode)."""
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="voltbridge-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # a previous run's counts would be added to this one's
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return str(path)


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def serve(bind: str, workers: int = 2, threads: int = 8, **extra: Any) -> None:
    # reuse_port: each worker listens on its own SO_REUSEPORT socket and the kernel spreads new connections
    # across them; on one shared socket, whichever worker wakes first takes a burst of keep-alive clients
    # and one worker can end up serving most of them while the other idles.
    options = {"bind": bind, "workers": workers, "threads": threads, "worker_class": "gthread", "reuse_port": True,
               "timeout": 60, "graceful_timeout": 30, "keepalive": 5, "accesslog": "-",
               # %(U)s is the path without the query string, which may carry an API key.
               "access_log_format": '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms',
               "child_exit": _child_exit, **extra}
    metrics_directory()
    _Gunicorn(options).run()
