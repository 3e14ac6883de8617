"""Editing a store in the dashboard (issue 22): owners everything, managers all but where the money goes;
wallets checked as `voltbridge store set` checks them; open invoices keep their wallet."""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.keypair import Keypair

from gateway_core.accounts.members import create_store_for
from gateway_core.adapters.models import Invoice, Quote, Store
from gateway_core.domain.errors import ValidationFailed
from gateway_core.invoices.create import InvoiceRequest, create_invoice
from gateway_core.stores.edit import StoreChanges, update_store
from gateway_core.stores.manage import find_store
from tests.integration.dashboard_support import add_member, make_user, post_form, sign_in


def _devnet_store(services, owner_id: int, wallet: str) -> int:
    with services.uow() as uow:
        return create_store_for(uow, services.vault, owner_id, name="Shop", network="devnet",
                                wallets={"SOL": wallet}).id


def _form(**overrides: str) -> dict[str, str]:
    return {"name": "Shop", "platform_fee_percent": "0", "underpayment_tolerance_percent": "0",
            "default_expiry_hours": "24", "settlement_mode": "direct", **overrides}


def test_owner_changes_terms_and_wallets_and_open_invoices_keep_theirs(services, app) -> None:
    old, new = str(Keypair().pubkey()), str(Keypair().pubkey())
    owner = make_user(services, "owner@shop.test")
    store_id = _devnet_store(services, owner.id, old)
    with services.uow() as uow:
        open_invoice = create_invoice(uow, find_store(uow, store_id), InvoiceRequest(amount=Decimal("10")),
                                      services.invoicing).view.number
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    path = f"/dashboard/stores/{store_id}/edit"
    page = client.get(path).get_data(as_text=True)
    assert old in page and 'value="24"' in page

    bad = post_form(client, path, _form(wallet_sol="notanaddress"), token_from=path)
    assert bad.status_code == 422 and "The SOL wallet address is not valid." in bad.get_data(as_text=True)
    bad_fee = post_form(client, path, _form(platform_fee_percent="101"), token_from=path)
    assert bad_fee.status_code == 422
    saved = post_form(client, path, _form(name="Shop Two", platform_fee_percent="1.5",
                                          underpayment_tolerance_percent="0.25", default_expiry_hours="2",
                                          wallet_sol=new), token_from=path)
    assert saved.status_code == 302
    with services.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None and store.name == "Shop Two" and store.default_expiry_hours == 2
        assert store.platform_fee_percent == Decimal("1.5")
        assert store.underpayment_tolerance_percent == Decimal("0.25")
        assert {w.asset: w.address for w in store.wallets}["SOL"] == new
        invoice = uow.session.query(Invoice).filter_by(number=open_invoice).one()
        sol = uow.session.query(Quote).filter_by(invoice_id=invoice.id, asset="SOL").one()
        assert sol.address == old  # an open invoice keeps the wallet it quoted


def test_a_manager_edits_terms_but_not_wallets(services, app) -> None:
    old, new = str(Keypair().pubkey()), str(Keypair().pubkey())
    owner = make_user(services, "owner@shop.test")
    make_user(services, "manager@shop.test")
    store_id = _devnet_store(services, owner.id, old)
    add_member(services, store_id, "manager@shop.test", "manager")
    client = app.test_client()
    sign_in(client, "manager@shop.test")
    path = f"/dashboard/stores/{store_id}/edit"
    assert "SOL wallet" not in client.get(path).get_data(as_text=True)
    saved = post_form(client, path, _form(name="Renamed", wallet_sol=new, settlement_mode="deposit"),
                      token_from=path)
    assert saved.status_code == 302
    with services.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None and store.name == "Renamed" and store.settlement_mode == "direct"
        assert {w.asset: w.address for w in store.wallets}["SOL"] == old


def test_the_language_of_the_stores_emails_is_chosen_at_creation_and_edited_among_the_locales(services, app) -> None:
    make_user(services, "owner@shop.test")
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    new = "/dashboard/stores/new"
    unknown = post_form(client, new, {"name": "Shop", "network": "sandbox", "settlement_mode": "direct",
                                      "language": "xx"}, token_from=new)
    assert unknown.status_code == 400
    created = post_form(client, new, {"name": "Shop", "network": "sandbox", "settlement_mode": "direct",
                                      "language": "fr"}, token_from=new)
    assert created.status_code == 201
    with services.uow() as uow:
        store = uow.session.query(Store).filter_by(name="Shop").one()
        store_id, language = store.id, store.language
    assert language == "fr"

    path = f"/dashboard/stores/{store_id}/edit"
    form = client.get(path).get_data(as_text=True)
    assert '<option selected value="fr">Français</option>' in form and 'value="zh-Hans"' in form
    refused = post_form(client, path, _form(language="klingon"), token_from=path)
    assert refused.status_code == 400
    assert post_form(client, path, _form(language="de"), token_from=path).status_code == 302
    assert "Deutsch" in client.get(f"/dashboard/stores/{store_id}").get_data(as_text=True)
    assert post_form(client, path, _form(), token_from=path).status_code == 302  # no language posted: kept
    with services.uow() as uow:
        store = uow.session.get(Store, store_id)
        assert store is not None and store.language == "de"
        # The core checks it as well (the CLI and any other caller): a language the locale folder has.
        with pytest.raises(ValidationFailed):
            update_store(uow, store_id, StoreChanges(language="xx"))
        assert update_store(uow, store_id, StoreChanges(language="PT-br")).language == "pt-BR"
