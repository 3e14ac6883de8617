"""The `voltbridge` command: stores, keys, rotation with a grace period, the sandbox simulator, migrations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from bridge.cli import main
from tests.conftest import invoice_body, post_json, tick

CREATE = "/api/plugin/invoice/create"


def run(app, *args: str):
    result = app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_store_create_json_prints_the_key_once(app, client) -> None:
    result = run(app, "store", "create", "--name", "Scripted", "--network", "testnet", "--email", "m@shop.test",
                 "--wallet", "USDC=9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "--json")
    assert result.exit_code == 0, result.output
    store = json.loads(result.output)
    assert set(store) >= {"id", "name", "network", "api_key", "webhook_secret"}
    assert store["network"] == "devnet" and len(store["api_key"]) == 32
    listing = run(app, "store", "list")
    assert "Scripted" in listing.output and store["api_key"] not in listing.output
    created = post_json(client, CREATE, invoice_body(store["api_key"], network="testnet"))
    assert created.status_code == 201 and created.get_json()["crypto_currency"] == "USDC"


def test_store_create_human_output_and_bad_input(app) -> None:
    result = run(app, "store", "create", "--name", "Shop", "--network", "sandbox")
    assert result.exit_code == 0 and "API key (shown once):" in result.output
    bad = run(app, "store", "create", "--name", "Shop", "--network", "moon")
    assert bad.exit_code != 0 and "Unknown network" in bad.output
    bad_wallet = run(app, "store", "create", "--name", "Shop", "--network", "devnet", "--wallet", "DOGE=abc")
    assert bad_wallet.exit_code != 0


def test_key_rotate_keeps_the_old_key_for_the_grace_period(app, client, store, clock) -> None:
    result = run(app, "key", "rotate", str(store.id))
    assert result.exit_code == 0, result.output
    new_key = result.output.split(": ")[1].split()[0]
    assert len(new_key) == 32 and new_key != store.api_key
    assert "24 hours" in result.output
    for key in (store.api_key, new_key):
        assert post_json(client, "/api/plugin/test-connection", {"api_key": key}).status_code == 200
    clock.advance(hours=24, seconds=1)
    assert post_json(client, "/api/plugin/test-connection", {"api_key": store.api_key}).status_code == 401
    assert post_json(client, "/api/plugin/test-connection", {"api_key": new_key}).status_code == 200


def test_key_rotate_by_name_with_custom_grace_and_unknown_store(app, client, store, clock) -> None:
    result = run(app, "key", "rotate", "Test Shop", "--grace-hours", "0")
    assert result.exit_code == 0
    assert post_json(client, "/api/plugin/test-connection", {"api_key": store.api_key}).status_code == 401
    assert run(app, "key", "rotate", "No Such Store").exit_code != 0


def test_stored_keys_are_digests_and_ciphertext_never_the_key(app, store, services) -> None:
    with services.uow() as uow:
        rows = uow.session.execute(sa.text("SELECT digest, encrypted, hint FROM api_keys")).all()
    (digest, encrypted, hint), = rows
    assert store.api_key not in digest and store.api_key not in encrypted
    assert len(digest) == 64 and hint == store.api_key[:4]
    from gateway_core.keys.api_keys import signing_key

    with services.uow() as uow:
        assert signing_key(uow, services.vault, store.id) == store.api_key


def test_simulate_pay_defaults_to_the_amount_due(app, client, store, services) -> None:
    number = post_json(client, CREATE, invoice_body(store.api_key)).get_json()["invoice_number"]
    partial = run(app, "simulate", "pay", number, "--asset", "usdc", "--amount", "50")
    assert partial.exit_code == 0 and "sent 50 USDC" in partial.output
    rest = run(app, "simulate", "pay", number, "--asset", "USDC")
    assert rest.exit_code == 0 and "sent 49.99 USDC" in rest.output
    tick(services)
    body = client.get(f"/api/plugin/invoice/{number}/status?api_key={store.api_key}").get_json()
    assert body["lifecycle_status"] == "settled"
    assert run(app, "simulate", "pay", "NOSUCHINVOICE").exit_code != 0
    assert run(app, "simulate", "pay", number, "--amount", "abc").exit_code != 0


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance")}
    subprocess.run([sys.executable, "-m", "bridge", "db", "upgrade"], check=True, env=env, capture_output=True)
    engine = sa.create_engine(url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"stores", "invoices", "quotes", "payments", "events", "api_keys"} <= tables
    engine.dispose()
    assert (tmp_path / "instance" / "secret_key").exists()
