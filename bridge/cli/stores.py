"""`voltbridge store`: stores and their notification settings."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from bridge.cli.group import decimal, group
from bridge.extensions import services
from gateway_core.adapters.i18n import available
from gateway_core.adapters.rates.book import fixed_on_mainnet_warning
from gateway_core.bootstrap import Services
from gateway_core.stores.manage import create_store, find_store, list_stores, set_wallet, usdc_mints_for

LANGUAGE_HELP = ("language of the merchant emails: " + ", ".join(available()))
ALLOW_OFF_CURVE_HELP = ("accept Solana wallets off the ed25519 curve (program-derived, e.g. a multisig vault): "
                        "Solana Pay wallets cannot derive their USDC token account, so USDC paid by QR fails")


def _wallets(values: tuple[str, ...]) -> dict[str, str]:
    wallets = {}
    for item in values:
        asset, sep, address = item.partition("=")
        if not sep or not address:
            raise click.BadParameter(f"{item!r} is not ASSET=ADDRESS", param_hint="--wallet")
        wallets[asset.strip().upper()] = address.strip()
    return wallets


@group("store")
def store_group() -> None:
    """Stores and their notification settings."""


@store_group.command("create")
@click.option("--name", required=True)
@click.option("--network", required=True, help="sandbox, devnet (alias testnet) or mainnet")
@click.option("--email", default=None, help="merchant notification address (turns email notifications on)")
@click.option("--wallet", "wallets", multiple=True, help="ASSET=ADDRESS, repeatable (SOL, USDC, USDT)")
@click.option("--settlement", default="direct", type=click.Choice(["direct", "deposit"]), show_default=True)
@click.option("--fee-percent", default="0", callback=decimal, show_default=True)
@click.option("--tolerance-percent", default="0", callback=decimal, show_default=True)
@click.option("--tron-xpub", default=None,
              help="TRON account extended PUBLIC key (m/44'/195'/0'): USDT at a fresh address per invoice")
@click.option("--allow-off-curve", is_flag=True, help=ALLOW_OFF_CURVE_HELP)
@click.option("--language", default="en", show_default=True, help=LANGUAGE_HELP)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def store_create(name: str, network: str, email: str | None, wallets: tuple[str, ...], settlement: str,
                 fee_percent: Decimal, tolerance_percent: Decimal, as_json: bool,
                 tron_xpub: str | None = None, allow_off_curve: bool = False, language: str = "en") -> None:
    """Create a store and print its API key (shown once). Every wallet is checked before it can take money."""
    svc = services()
    with svc.uow() as uow:
        store = create_store(uow, svc.vault, name=name, network=network, email=email,
                             wallets=_wallets(wallets), settlement_mode=settlement,
                             platform_fee_percent=fee_percent, underpayment_tolerance_percent=tolerance_percent,
                             tron_xpub=tron_xpub, allow_off_curve=allow_off_curve,
                             usdc_mints=usdc_mints_for(svc.settings), email_notifications=email is not None,
                             language=language)
    if as_json:
        click.echo(json.dumps({"id": store.id, "name": store.name, "network": store.network, "language": store.language,
                               "api_key": store.api_key, "webhook_secret": store.webhook_secret,
                               "wallets": store.wallets, "token_accounts": store.token_accounts}))
        return
    click.echo(f"Store {store.id} '{store.name}' on {store.network}")
    click.echo(f"API key (shown once): {store.api_key}")
    click.echo(f"Webhook secret: {store.webhook_secret}")
    for code, account in store.token_accounts.items():
        click.echo(f"{code} arrives at the wallet's token account {account}")


@store_group.command("list")
@with_appcontext
def store_list() -> None:
    """List stores."""
    svc = services()
    warning = fixed_on_mainnet_warning(svc.settings)
    with svc.uow() as uow:
        stores = list_stores(uow)
        for store in stores:
            assets = ",".join(w.asset for w in store.wallets) or "-"
            fixed = "\tWARNING: fixed rates" if warning and store.network == "mainnet" else ""
            click.echo(f"{store.id}\t{store.name}\t{store.network}\t{store.settlement_mode}\t{assets}{fixed}")
    if warning and any(store.network == "mainnet" for store in stores):
        click.echo(f"WARNING: {warning}", err=True)


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
@click.option("--language", default=None, help=LANGUAGE_HELP)
@click.option("--logo", default=None, help="PNG, JPEG or WebP file (at most 256 KB) for the payment page and "
              "emails; '' removes it")
@click.option("--wallet", "wallets", multiple=True,
              help="ASSET=ADDRESS: change the wallet of an asset (new invoices pay it; open ones keep theirs)")
@click.option("--allow-off-curve", is_flag=True, help=ALLOW_OFF_CURVE_HELP)
@click.option("--json", "as_json", is_flag=True, help="print the settings as one JSON object")
@with_appcontext
def store_set(store: str, as_json: bool, contract: str | None, rotate_secret: bool, logo: str | None,
              wallets: tuple[str, ...], allow_off_curve: bool, **options: Any) -> None:
    """Show or change STORE's wallets, logo and notification settings (the latter as POST /api/plugin/store/settings).

    STORE is an id or a name; a name two stores share is refused (give the id)."""
    from bridge.jsonio import dumps
    from gateway_core.notifications.notify_settings import update_settings

    svc = services()
    if logo is not None:
        _set_logo(svc, store, logo)
    if wallets:
        _set_wallets(svc, store, _wallets(wallets), allow_off_curve, as_json)
        if all(v is None for v in options.values()) and contract is None:
            return
    if contract is not None:
        _set_contract_webhook(svc, store, contract, options.get("webhook_url"), rotate_secret, as_json)
        return
    fields = {k: v for k, v in options.items() if v is not None}
    view, changed = update_settings(
        svc.uow, svc.webhooks, svc.clock.now(), lambda uow: find_store(uow, store), fields,
        on_verify=lambda url: click.echo(f"Verifying {url} with a challenge request ..."),
    )
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
    click.echo(f"  language             {view['language']}")
    for hook in view["contract_webhooks"]:
        click.echo(f"  {hook['contract'] + ' webhook':<20} {hook['url']}")


def _set_wallets(svc: Services, store: str, wallets: dict[str, str], allow_off_curve: bool, as_json: bool) -> None:
    """Check and set each wallet, all or none (one transaction)."""
    with svc.uow() as uow:
        changed = [set_wallet(uow, store, code, address, allow_off_curve=allow_off_curve,
                              usdc_mints=usdc_mints_for(svc.settings)) for code, address in wallets.items()]
        store_id = changed[0][0].id
    if as_json:
        click.echo(json.dumps({"store_id": store_id, "wallets": {w.asset: w.address for _, w in changed},
                               "token_accounts": {w.asset: w.token_account for _, w in changed if w.token_account}}))
        return
    for _, wallet in changed:
        account = f" (token account {wallet.token_account})" if wallet.token_account else ""
        click.echo(f"Store {store_id} {wallet.asset} wallet set to {wallet.address}{account}; new invoices pay it")


def _set_logo(svc: Services, store: str, path: str) -> None:
    from gateway_core.stores.branding import set_logo

    try:
        data = Path(path).read_bytes() if path else None
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    with svc.uow() as uow:
        logo = set_logo(uow, find_store(uow, store).id, data, svc.clock.now())
    if logo is None:
        click.echo("Logo removed")
    else:
        click.echo(f"Logo set: {logo.content_type}, {logo.width}x{logo.height} px, "
                   f"{svc.settings.public_url.rstrip('/')}/logo/{logo.digest}")


def _set_contract_webhook(svc: Services, store: str, contract: str, url: str | None, rotate: bool,
                          as_json: bool) -> None:
    """Another contract's webhook URL and signing secret for the store (the secret is shown when issued)."""
    from gateway_core.notifications.contract_webhooks import contract_webhook, set_contract_webhook

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
    if as_json:
        click.echo(json.dumps({"store_id": store_id, "contract": contract, "webhook_url": url,
                               "webhook_secret": secret}))
        return
    click.echo(f"Store {store_id} {contract} webhook_url  {url}")
    click.echo(f"Signing secret: {secret}")
