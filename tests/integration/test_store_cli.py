"""`voltbridge store create/set/list`: wallets checked before they can take money, names unique, warnings shown."""

from __future__ import annotations

import dataclasses
import json

from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from bridge.cli import main
from tests.conftest import invoice_body, post_json, running_app

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
SQUADS_V4 = Pubkey.from_string("SQDS4ep65T869zMMBKyuUq6aD6EgTu8psMjkvj52pCf")


def run(app, *args: str):
    return app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def vault() -> str:
    address, _ = Pubkey.find_program_address([b"multisig", bytes(Keypair().pubkey()), b"vault", b"\0"], SQUADS_V4)
    return str(address)


def test_store_create_refuses_what_cannot_take_money_naming_field_and_reason(app) -> None:
    bad = run(app, "store", "create", "--name", "Shop", "--network", "mainnet", "--wallet", "SOL=notanaddress")
    assert bad.exit_code != 0 and "Invalid SOL wallet" in bad.output and "wallet.SOL" in bad.output
    assert "decodes to 9 bytes, not 32" in bad.output
    pda = vault()
    off = run(app, "store", "create", "--name", "Shop", "--network", "mainnet", "--wallet", f"USDC={pda}")
    assert off.exit_code != 0 and "off the ed25519 curve" in off.output and "--allow-off-curve" in off.output
    tron = Bip44.FromSeed(Bip39SeedGenerator(MNEMONIC).Generate(), Bip44Coins.TRON).Purpose().Coin().Account(0)
    address = tron.Change(Bip44Changes.CHAIN_EXT).AddressIndex(0).PublicKey().ToAddress()
    typo = address[:-1] + ("1" if address[-1] != "1" else "2")
    bad_tron = run(app, "store", "create", "--name", "Shop", "--network", "mainnet", "--wallet", f"USDT={typo}")
    assert bad_tron.exit_code != 0 and "wallet.USDT" in bad_tron.output and "checksum" in bad_tron.output
    private = run(app, "store", "create", "--name", "Shop", "--network", "mainnet",
                  "--tron-xpub", tron.PrivateKey().ToExtended())
    assert private.exit_code != 0 and "tron_xpub" in private.output and "private key" in private.output
    listing = run(app, "store", "list")
    assert "Shop" not in listing.output  # nothing was created by any of them
    good = run(app, "store", "create", "--name", "Shop", "--network", "mainnet", "--wallet", f"USDC={pda}",
               "--wallet", f"USDT={address}", "--allow-off-curve", "--json")
    assert good.exit_code == 0, good.output
    made = json.loads(good.output)
    assert made["wallets"] == {"USDC": pda, "USDT": address} and set(made["token_accounts"]) == {"USDC"}


def test_store_set_wallet_changes_it_for_new_invoices_and_refuses_ambiguity(app, client, services) -> None:
    old, new = str(Keypair().pubkey()), str(Keypair().pubkey())
    made = json.loads(run(app, "store", "create", "--name", "Mover", "--network", "devnet", "--wallet",
                          f"SOL={old}", "--json").output)
    before = post_json(client, "/api/plugin/invoice/create", invoice_body(made["api_key"], network="testnet"))
    bad = run(app, "store", "set", "Mover", "--wallet", "SOL=notanaddress")
    assert bad.exit_code != 0 and "wallet.SOL" in bad.output
    changed = run(app, "store", "set", "Mover", "--wallet", f"USDC={new}")
    assert changed.exit_code == 0 and f"USDC wallet set to {new}" in changed.output
    assert "token account" in changed.output
    assert run(app, "store", "set", "Mover", "--wallet", f"SOL={new}").exit_code == 0
    with running_app(dataclasses.replace(services.settings, api_key_cache_seconds=0), services.clock) as fresh:
        after = post_json(fresh.test_client(), "/api/plugin/invoice/create",
                          invoice_body(made["api_key"], network="testnet", external_invoice_id="order_2"))
    assert before.get_json()["sol_deposit_address"] == old and after.get_json()["sol_deposit_address"] == new
    status = client.get(f"/api/plugin/invoice/{before.get_json()['invoice_number']}/status",
                        query_string={"api_key": made["api_key"]}).get_json()
    assert status["sol_deposit_address"] == old  # an open invoice keeps the wallet it quoted
    taken = run(app, "store", "create", "--name", "Mover", "--network", "sandbox")
    assert taken.exit_code != 0 and "names are unique" in taken.output


def test_store_list_warns_of_fixed_rates_on_mainnet(app) -> None:
    assert app.extensions["voltbridge"].settings.rate_sources == ("fixed",)  # the test settings' explicit choice
    run(app, "store", "create", "--name", "Live Shop", "--network", "mainnet", "--wallet",
        f"SOL={Keypair().pubkey()}")
    listing = run(app, "store", "list")
    assert "Live Shop\tmainnet\tdirect\tSOL\tWARNING: fixed rates" in listing.output
    assert "mainnet stores price with the fixed rate table" in listing.output
