"""`voltbridge store create --tron-xpub`: a store that takes USDT at a fresh watch-only address per invoice."""

from __future__ import annotations

import json

from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins

from bridge.cli import main
from tests.conftest import invoice_body, post_json

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def test_store_create_with_tron_xpub_then_voltxt_invoices_get_derived_addresses(app, client) -> None:
    account = Bip44.FromSeed(Bip39SeedGenerator(MNEMONIC).Generate(), Bip44Coins.TRON).Purpose().Coin().Account(0)
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["store", "create", "--name", "Tron Shop", "--network", "testnet",
                                  "--wallet", "USDC=9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
                                  "--tron-xpub", account.PublicKey().ToExtended(), "--json"])
    assert result.exit_code == 0, result.output
    store = json.loads(result.output)
    chain = account.Change(Bip44Changes.CHAIN_EXT)
    for index in range(2):
        created = post_json(client, "/api/plugin/invoice/create",
                            invoice_body(store["api_key"], network="testnet", external_invoice_id=f"o-{index}"))
        body = created.get_json()
        assert created.status_code == 201, body
        assert body["usdt_deposit_address"] == chain.AddressIndex(index).PublicKey().ToAddress()
        assert body["usdc_deposit_address"] == "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"

    private = runner.invoke(main, ["store", "create", "--name", "Leaky", "--network", "mainnet",
                                   "--tron-xpub", account.PrivateKey().ToExtended()])
    assert private.exit_code != 0 and "PUBLIC key" in private.output
