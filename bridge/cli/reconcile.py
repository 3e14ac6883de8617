"""`voltbridge reconcile`: what the chain shows each watched account received, against the payments recorded."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from bridge.cli.group import command
from bridge.extensions import services
from gateway_core.payments.reconcile import AccountCheck, reconcile
from gateway_core.stores.manage import find_store


@command("reconcile")
@click.option("--store", default=None, help="only this store's accounts (id or name)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (for scripts)")
@with_appcontext
def reconcile_command(store: str | None, as_json: bool) -> None:
    """Compare what the chain shows watched accounts received with the payments recorded.

    Exits with status 1 when an account differs or its chain could not be read.
    """
    svc = services()
    store_id = None
    if store is not None:
        with svc.uow() as uow:
            store_id = find_store(uow, store).id
    checks = reconcile(svc.uow, svc.chains, svc.clock, svc.late_window, store_id)
    failing = [c for c in checks if not c.ok]
    if as_json:
        click.echo(json.dumps({"accounts_checked": len(checks),
                               "differences": sum(len(c.differences) for c in checks),
                               "unreadable": sum(c.error is not None for c in checks),
                               "accounts": [_as_json(c) for c in checks]}))
    else:
        for check in checks:
            click.echo("\t".join((_state(check), check.chain, check.network, check.address, _totals(check))))
            for diff in check.differences:
                click.echo(f"\t{diff.tx_id}\t{diff.asset}\ton chain {diff.on_chain}\trecorded {diff.recorded}")
        click.echo(f"{len(checks)} account(s) checked: "
                   + (f"{len(failing)} with differences or unreadable" if failing else "no difference"))
    if failing:
        raise SystemExit(1)


def _state(check: AccountCheck) -> str:
    return "ok" if check.ok else ("UNREADABLE" if check.error else "DIFFERS")


def _totals(check: AccountCheck) -> str:
    if check.error:
        return check.error
    assets = sorted(check.on_chain.keys() | check.recorded.keys())
    return ", ".join(f"{a} {check.on_chain.get(a, 0)} on chain / {check.recorded.get(a, 0)} recorded"
                     for a in assets) or "nothing received"


def _as_json(check: AccountCheck) -> dict[str, Any]:
    """One account's reconciliation; base units as strings (exact beyond 2**53)."""
    return {"chain": check.chain, "network": check.network, "address": check.address,
            "since": check.since.isoformat(), "error": check.error,
            "on_chain": {a: str(v) for a, v in check.on_chain.items()},
            "recorded": {a: str(v) for a, v in check.recorded.items()},
            "differences": [{"tx_id": d.tx_id, "asset": d.asset, "on_chain": str(d.on_chain),
                             "recorded": str(d.recorded)} for d in check.differences]}
