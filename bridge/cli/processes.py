"""`voltbridge run`, `web` and `worker`: the processes the gateway runs as."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex

import click
from flask import current_app
from flask.cli import with_appcontext

from bridge.cli.group import command
from bridge.extensions import services
from gateway_core.adapters.db import set_process_role
from gateway_core.bootstrap import Services, build_services
from gateway_core.config import Settings
from gateway_core.logs import configure_logging
from gateway_core.stores.manage import create_store, list_stores
from storefront_adapters import install_channels

log = logging.getLogger("voltbridge")


@command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """Embedded gateway: migrate, create a demo store on first run, serve HTTP and run the worker."""
    from werkzeug.serving import run_simple

    from bridge.migrate import upgrade
    from bridge.serving import RedactingRequestHandler
    from gateway_core.worker import background_worker

    set_process_role("run")
    svc = services()
    if not os.environ.get("PUBLIC_URL"):  # the printed links must open: they follow where we listen
        svc.settings = dataclasses.replace(svc.settings, public_url=_listening_url(host, port))
    upgrade(svc.settings.database_url)
    _ensure_demo_store(svc, host, port)
    worker = background_worker(install_channels(build_services(svc.settings, clock=svc.clock)))
    worker.start()
    click.echo(f"voltbridge is serving on http://{host}:{port} (worker running in this process)")
    try:
        # Threaded, because status streams hold connections open (DESIGN.md §3).
        run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False,
                   use_debugger=False, request_handler=RedactingRequestHandler)
    finally:
        worker.shutdown(wait=False)


def _listening_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens to reach `voltbridge run --host/--port`."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a wildcard listener
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"


def _ensure_demo_store(svc: Services, host: str, port: int) -> None:
    with svc.uow() as uow:
        if list_stores(uow):
            click.echo("Stores exist already; API keys are shown only when created (`voltbridge key rotate <store>`).")
            return
        store = create_store(uow, svc.vault, name="Demo Store", network="sandbox", email="merchant@example.com")
    base = svc.settings.public_url
    payload = json.dumps({"api_key": store.api_key, "platform": "custom", "external_invoice_id": "demo-order-1",
                          "amount": "25.00", "fiat_currency": "USD", "network": "testnet",
                          "description": "Demo order"}).replace('"25.00"', "25.00")
    click.echo("")
    click.echo(f"Demo store created on the sandbox network (SOL, USDC, USDT). Store id: {store.id}")
    click.echo(f"API key (shown once, keep it): {store.api_key}")
    click.echo(f"Webhook secret: {store.webhook_secret}")
    click.echo("Create an invoice:")
    click.echo(f"  curl -sS -X POST {base}/api/plugin/invoice/create -H 'Content-Type: application/json' "
               f"-d {shlex.quote(payload)}")
    click.echo("Then pay it: .venv/bin/voltbridge simulate pay <invoice_number>"
               "  (or POST /pay/<invoice_number>/simulate)")
    click.echo("")


@command("web")
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - the container's listener
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, envvar="WEB_CONCURRENCY")
@click.option("--threads", default=8, show_default=True, type=int, envvar="WEB_THREADS")
def web_command(host: str, port: int, workers: int, threads: int) -> None:
    """Production HTTP server: gunicorn with threaded workers (no scheduler here; run `worker`)."""
    from bridge.gunicorn_app import serve

    set_process_role("web")  # before the fork: each gunicorn worker names its sessions with its own pid
    serve(f"{host}:{port}", workers=workers, threads=threads)


@command("worker")
def worker_command() -> None:
    """Production worker: chain watchers and expiry on APScheduler (run one or more)."""
    from gateway_core.worker import blocking_worker

    set_process_role("worker")
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    log.info("worker starting", extra={"watch_interval": settings.watch_interval_seconds})
    blocking_worker(install_channels(build_services(settings))).start()


@command("parked")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per line")
@with_appcontext
def parked_command(as_json: bool) -> None:
    """List what the worker parked after a failure (retried with backoff until it succeeds)."""
    from gateway_core.payments.parked import list_parked

    with services().uow() as uow:
        rows = [{"kind": p.kind, "item": p.item_key, "scope": p.scope, "attempts": p.attempts,
                 "first_failed_at": p.first_failed_at.isoformat(), "next_try_at": p.next_try_at.isoformat(),
                 "last_error": p.last_error} for p in list_parked(uow)]
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo("\t".join(str(row[k]) for k in ("kind", "item", "attempts", "next_try_at", "last_error")))
    if not rows and not as_json:
        click.echo("Nothing parked.")
