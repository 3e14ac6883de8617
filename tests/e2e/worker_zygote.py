"""Starts `voltbridge worker` processes by forking a process that has imported the gateway already.

A worker restarted after each of ten kills would otherwise spend most of the loop importing (seconds each on
a busy machine). Each worker is still a process of its own, started before any thread, connection or
scheduler exists: the fork runs the `voltbridge worker` command as the console script does, in the environment
this process was started with, writing its output to the log file it is given.

Protocol on stdin/stdout, one line each: `spawn <log path>` answers the new worker's pid. End of stdin ends
this process (its workers are the caller's to stop). Run as `python -m tests.e2e.worker_zygote`.
"""

from __future__ import annotations

import os
import signal
import sys


def _run_worker(log_path: str) -> None:
    out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    from bridge.cli import main

    code = 0
    try:
        main(["worker"], prog_name="voltbridge")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _warm() -> None:
    """What every worker would otherwise do again after the fork: the modules its services import on first use
    (the rate sources, the registered channels, sqlite3), and the system CA bundle its webhook and SMTP
    transports share (~0.1 s each)."""
    import importlib
    import pkgutil
    import sqlite3  # noqa: F401
    import statistics  # noqa: F401

    import gateway_core.adapters.rates
    import storefront_adapters.saleor.adapter  # noqa: F401
    from gateway_core.adapters.notify.tls import system_tls

    for module in pkgutil.iter_modules(gateway_core.adapters.rates.__path__, "gateway_core.adapters.rates."):
        importlib.import_module(module.name)
    system_tls()


def serve() -> None:
    import threading

    import bridge.cli  # noqa: F401  everything the worker command imports, once
    import gateway_core.worker  # noqa: F401
    import storefront_adapters  # noqa: F401

    _warm()

    if threading.active_count() > 1:  # a fork copies only the forking thread: the imports must start none
        print(f"imports started threads: {threading.enumerate()}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps killed workers: no zombies to wait for
    for line in sys.stdin:
        command, _, log_path = line.strip().partition(" ")
        if command != "spawn":
            continue
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _run_worker(log_path)
        print(pid, flush=True)


if __name__ == "__main__":
    serve()
