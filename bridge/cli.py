"""The `voltbridge` command: a Flask CLI group (run, web, worker, db, store, key, simulate)."""

from __future__ import annotations

import json
import logging
import shlex
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from gateway_core.bootstrap import Services, build_services
from gateway_core.config import Settings
from gateway_core.domain.errors import GatewayError
from gateway_core.logs import configure_logging
from gateway_core.services.keys import rotate_key
from gateway_core.services.sandbox import simulate_payment
from gateway_core.services.stores import create_store, find_store, list_stores
from storefront_adapters import install_channels

log = logging.getLogger("voltbridge")


def _make_app() -> Flask:
    from bridge import create_app

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


def _services() -> Services:
    return current_app.extensions["voltbridge"]  # type: ignore[no-any-return]


def _fail(exc: GatewayError) -> None:
    detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    raise click.ClickException(f"{exc.message}{' (' + detail + ')' if detail else ''}")


@click.group(cls=FlaskGroup, create_app=_make_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """voltbridge: a self-hosted crypto payment gateway."""


main.add_command(shell_command)
main.add_command(routes_command)


def init_app(app: Flask) -> None:
    """Nothing to attach per app: commands live on the group; kept for the create_app wiring pattern."""


# -- processes ---------------------------------------------------------------------------------------------


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """Embedded gateway: migrate, create a demo store on first run, serve HTTP and run the worker."""
    from werkzeug.serving import run_simple

    from bridge.migrate import upgrade
    from bridge.serving import RedactingRequestHandler
    from gateway_core.worker import background_worker

    svc = _services()
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


def _ensure_demo_store(svc: Services, host: str, port: int) -> None:
    with svc.uow() as uow:
        if list_stores(uow):
            click.echo("Stores exist already; API keys are shown only when created (`voltbridge key rotate <store>`).")
            return
        store = create_store(uow, svc.vault, name="Demo Store", network="sandbox", email="merchant@example.com")
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
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


@main.command("web")
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - the container's listener
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, envvar="WEB_CONCURRENCY")
@click.option("--threads", default=8, show_default=True, type=int, envvar="WEB_THREADS")
def web_command(host: str, port: int, workers: int, threads: int) -> None:
    """Production HTTP server: gunicorn with threaded workers (no scheduler here; run `worker`)."""
    from bridge.gunicorn_app import serve

    serve(f"{host}:{port}", workers=workers, threads=threads)


@main.command("worker")
def worker_command() -> None:
    """Production worker: chain watchers and expiry on APScheduler (run one or more)."""
    from gateway_core.worker import blocking_worker

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    log.info("worker starting", extra={"watch_interval": settings.watch_interval_seconds})
    blocking_worker(install_channels(build_services(settings))).start()


# -- database ----------------------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations."""
    from bridge.migrate import upgrade

    upgrade(Settings.from_env().database_url, revision)
    click.echo(f"database upgraded to {revision}")


# -- stores and keys ---------------------------------------------------------------------------------------


def _wallets(values: tuple[str, ...]) -> dict[str, str]:
    wallets = {}
    for item in values:
        asset, sep, address = item.partition("=")
        if not sep or not address:
            raise click.BadParameter(f"{item!r} is not ASSET=ADDRESS", param_hint="--wallet")
        wallets[asset.strip().upper()] = address.strip()
    return wallets


def _decimal(_ctx: Any, _param: Any, value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None


@main.group("store")
def store_group() -> None:
    """Stores."""


@store_group.command("create")
@click.option("--name", required=True)
@click.option("--network", required=True, help="sandbox, devnet (alias testnet) or mainnet")
@click.option("--email", default=None, help="merchant notification address")
@click.option("--wallet", "wallets", multiple=True, help="ASSET=ADDRESS, repeatable (SOL, USDC, USDT)")
@click.option("--settlement", default="direct", type=click.Choice(["direct", "deposit"]), show_default=True)
@click.option("--fee-percent", default="0", callback=_decimal, show_default=True)
@click.option("--tolerance-percent", default="0", callback=_decimal, show_default=True)
@click.option("--tron-xpub", default=None,
              help="TRON account extended PUBLIC key (m/44'/195'/0'): USDT at a fresh address per invoice")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def store_create(name: str, network: str, email: str | None, wallets: tuple[str, ...], settlement: str,
                 fee_percent: Decimal, tolerance_percent: Decimal, as_json: bool,
                 tron_xpub: str | None = None) -> None:
    """Create a store and print its API key (shown once)."""
    svc = _services()
    try:
        with svc.uow() as uow:
            store = create_store(uow, svc.vault, name=name, network=network, email=email,
                                 wallets=_wallets(wallets), settlement_mode=settlement,
                                 platform_fee_percent=fee_percent, underpayment_tolerance_percent=tolerance_percent,
                                 tron_xpub=tron_xpub)
    except GatewayError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps({"id": store.id, "name": store.name, "network": store.network,
                               "api_key": store.api_key, "webhook_secret": store.webhook_secret,
                               "wallets": store.wallets}))
        return
    click.echo(f"Store {store.id} '{store.name}' on {store.network}")
    click.echo(f"API key (shown once): {store.api_key}")
    click.echo(f"Webhook secret: {store.webhook_secret}")


@store_group.command("list")
@with_appcontext
def store_list() -> None:
    """List stores."""
    svc = _services()
    with svc.uow() as uow:
        for store in list_stores(uow):
            assets = ",".join(w.asset for w in store.wallets) or "-"
            click.echo(f"{store.id}\t{store.name}\t{store.network}\t{store.settlement_mode}\t{assets}")


@store_group.command("set")
@click.argument("store")
@click.option("--contract", default=None, type=click.Choice(["virtexgate", "veltpay"]),
              help="set the webhook of another contract (with --webhook-url) instead of the VOLTXT settings")
@click.option("--rotate-secret", is_flag=True, help="with --contract: issue a new signing secret")
@click.option("--webhook-url", default=None, help="store webhook URL (verified by a challenge GET); '' removes it")
@click.option("--webhook-events", default=None, help="comma-separated VOLTXT events, or 'all'")
@click.option("--email-notifications/--no-email-notifications", default=None, help="merchant email on events")
@click.option("--notification-email", default=None, help="where merchant email goes; '' removes it")
@click.option("--brand-color", default=None, help="email header colour, e.g. #4F46E5")
@click.option("--support-email", default=None)
@click.option("--website-url", default=None)
@click.option("--json", "as_json", is_flag=True, help="print the settings as one JSON object")
@with_appcontext
def store_set(store: str, as_json: bool, contract: str | None, rotate_secret: bool, **options: Any) -> None:
    """Show or change STORE's notification settings (the same as POST /api/plugin/store/settings)."""
    from bridge.jsonio import dumps
    from gateway_core.services.notify_settings import update_settings

    svc = _services()
    if contract is not None:
        _set_contract_webhook(svc, store, contract, options.get("webhook_url"), rotate_secret, as_json)
        return
    fields = {k: v for k, v in options.items() if v is not None}
    try:
        view, changed = update_settings(
            svc.uow, svc.webhooks, svc.clock.now(), lambda uow: find_store(uow, store), fields,
            on_verify=lambda url: click.echo(f"Verifying {url} with a challenge request ..."),
        )
    except GatewayError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(dumps(view))
        return
    events = "all" if view["webhook_events_all"] else ",".join(view["webhook_events"])
    click.echo(f"Store {view['store_id']} notification settings{' updated' if changed else ''}:")
    click.echo(f"  webhook_url          {view['webhook_url'] or '-'}")
    click.echo(f"  webhook_events       {events}")
    click.echo(f"  email_notifications  {'on' if view['email_notifications'] else 'off'}")
    click.echo(f"  notification_email   {view['notification_email'] or '-'}")
    click.echo(f"  brand_color          {view['brand_color'] or '-'}")
    click.echo(f"  support_email        {view['support_email'] or '-'}")
    for hook in view["contract_webhooks"]:
        click.echo(f"  {hook['contract'] + ' webhook':<20} {hook['url']}")


def _set_contract_webhook(svc: Services, store: str, contract: str, url: str | None, rotate: bool,
                          as_json: bool) -> None:
    """Another contract's webhook URL and signing secret for the store (the secret is shown when issued)."""
    from gateway_core.services.contract_webhooks import contract_webhook, set_contract_webhook

    try:
        with svc.uow() as uow:
            found = find_store(uow, store)
            if url is None and not rotate:
                hook = contract_webhook(uow.session, found.id, contract)
                shown = {"store_id": found.id, "contract": contract, "webhook_url": hook.url if hook else None}
                click.echo(json.dumps(shown) if as_json else f"{contract} webhook_url  {shown['webhook_url'] or '-'}")
                return
            if url is None:
                hook = contract_webhook(uow.session, found.id, contract)
                if hook is None:
                    raise click.UsageError("--rotate-secret needs a webhook URL set first (--webhook-url)")
                url = hook.url
            url, secret = set_contract_webhook(uow, svc.vault, svc.clock, found.id, contract, url,
                                               svc.settings.outbound_allowlist, new_secret=rotate)
            store_id = found.id
    except GatewayError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps({"store_id": store_id, "contract": contract, "webhook_url": url,
                               "webhook_secret": secret}))
        return
    click.echo(f"Store {store_id} {contract} webhook_url  {url}")
    click.echo(f"Signing secret: {secret}")


@main.group("key")
def key_group() -> None:
    """API keys, one set per contract (--kind)."""


KINDS = click.Choice(["voltxt", "virtexgate", "veltpay", "venta"])


def _print_key(issued: Any, as_json: bool, heading: str) -> None:
    if as_json:
        shown = {"store_id": issued.store_id, "kind": issued.kind, "api_key": issued.api_key}
        if issued.key_id is not None:  # VeltPay: the key id travels, the secret signs
            shown.update(key_id=issued.key_id, secret=issued.api_key)
        click.echo(json.dumps(shown))
        return
    click.echo(heading)
    if issued.key_id is not None:
        click.echo(f"  key_id: {issued.key_id}")
        click.echo(f"  secret (shown once): {issued.api_key}")
    else:
        click.echo(f"  API key (shown once): {issued.api_key}")


@key_group.command("create")
@click.argument("store")
@click.option("--kind", type=KINDS, default="voltxt", show_default=True, help="the contract the key is for")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def key_create(store: str, kind: str, as_json: bool) -> None:
    """Issue a key for STORE (id or name) in the KIND contract's format; existing keys keep working."""
    from gateway_core.services.keys import issue_key

    svc = _services()
    try:
        with svc.uow() as uow:
            issued = issue_key(uow, svc.vault, find_store(uow, store).id, kind)
    except GatewayError as exc:
        _fail(exc)
        return
    _print_key(issued, as_json, f"New {kind} key for store {issued.store_id}:")


@key_group.command("rotate")
@click.argument("store")
@click.option("--kind", type=KINDS, default="voltxt", show_default=True)
@click.option("--grace-hours", type=int, default=None, help="how long old keys keep working (default 24)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def key_rotate(store: str, kind: str, grace_hours: int | None, as_json: bool) -> None:
    """Issue a new key for STORE (id or name); old keys keep working for the grace period."""
    from datetime import timedelta

    svc = _services()
    grace = timedelta(hours=grace_hours) if grace_hours is not None else svc.key_grace
    try:
        with svc.uow() as uow:
            issued = rotate_key(uow, svc.vault, find_store(uow, store).id, svc.clock, grace, kind)
    except GatewayError as exc:
        _fail(exc)
        return
    if as_json:
        _print_key(issued, True, "")
        return
    if kind == "voltxt":
        click.echo(f"New API key for store {issued.store_id} (shown once): {issued.api_key}")
    else:
        _print_key(issued, False, f"New {kind} key for store {issued.store_id}:")
    click.echo(f"Previous keys keep working for {grace.total_seconds() / 3600:g} hours.")


@key_group.command("limit")
@click.argument("store")
@click.option("--kind", type=KINDS, default="venta", show_default=True)
@click.option("--per-minute", type=click.IntRange(1), default=None, help="requests per minute for each live key")
@click.option("--default", "use_default", is_flag=True, help="back to the contract's default (120)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def key_limit(store: str, kind: str, per_minute: int | None, use_default: bool, as_json: bool) -> None:
    """Show or set the request budget of STORE's live KIND keys (a key issued later starts at the default)."""
    from gateway_core.services.key_limits import rate_limits, set_rate_limit

    if per_minute is not None and use_default:
        raise click.UsageError("--per-minute and --default exclude each other")
    svc = _services()
    try:
        with svc.uow() as uow:
            store_id = find_store(uow, store).id
            if per_minute is not None or use_default:
                set_rate_limit(uow, store_id, kind, per_minute, svc.clock)
            limits = rate_limits(uow, store_id, kind, svc.clock)
    except GatewayError as exc:
        _fail(exc)
        return
    keys = [{"created_at": k.created_at.isoformat(), "expires_at": k.expires_at.isoformat() if k.expires_at else None,
             "per_minute": k.per_minute, "default": k.default} for k in limits]
    if as_json:
        click.echo(json.dumps({"store_id": store_id, "kind": kind, "keys": keys}))
        return
    if not keys:
        click.echo(f"Store {store_id} has no live {kind} keys (`voltbridge key create {store_id} --kind {kind}`).")
    for key in keys:
        note = " (default)" if key["default"] else ""
        until = f", expires {key['expires_at']}" if key["expires_at"] else ""
        click.echo(f"{kind} key created {key['created_at']}{until}: {key['per_minute']} requests/minute{note}")


# -- sandbox -----------------------------------------------------------------------------------------------


@main.group("simulate")
def simulate_group() -> None:
    """Sandbox network tools."""


@simulate_group.command("pay")
@click.argument("invoice_number")
@click.option("--asset", type=click.Choice(["SOL", "USDC", "USDT"], case_sensitive=False), default=None)
@click.option("--amount", default=None, help="in the asset's units; defaults to the amount still due")
@with_appcontext
def simulate_pay(invoice_number: str, asset: str | None, amount: str | None) -> None:
    """Pay a sandbox invoice (the worker picks the transfer up on its next tick)."""
    svc = _services()
    value = _decimal(None, None, amount) if amount is not None else None
    try:
        with svc.uow() as uow:
            transfer = simulate_payment(uow, invoice_number, svc.clock, asset, value)
    except GatewayError as exc:
        _fail(exc)
        return
    from gateway_core.domain.money import asset as asset_of
    from gateway_core.domain.money import from_base_units, plain

    units = plain(from_base_units(transfer.amount, asset_of(transfer.asset)))
    click.echo(f"sent {units} {transfer.asset} to {transfer.to_address} (tx {transfer.tx_id})")
