"""The integrations page (issue 22): each storefront's steps with this gateway's URL and the store's values."""

from __future__ import annotations

from gateway_core.adapters.models import Store
from tests.integration.dashboard_support import add_member, make_store, make_user, sign_in


def test_owner_sees_every_storefront_with_the_values_filled_in(services, app) -> None:
    owner = make_user(services, "owner@shop.test")
    store_id = make_store(services, owner)
    with services.uow() as uow:
        secret = uow.session.get(Store, store_id).webhook_secret  # type: ignore[union-attr]
    client = app.test_client()
    sign_in(client, "owner@shop.test")
    page = client.get(f"/dashboard/stores/{store_id}/integrations")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'href="/plugins/woocommerce.zip"' in html and "https://gateway.test/plugins/woocommerce.zip" in html
    assert "https://gateway.test/saleor/api/manifest" in html
    assert f"voltbridge saleor allow {store_id} --api-url" in html
    assert "https://gateway.test/shopify/auth/callback" in html and "https://gateway.test/shopify/webhooks" in html
    assert f"voltbridge shopify allow {store_id} --shop" in html
    assert secret in html and "Testnet" in html
    assert client.get("/plugins/woocommerce.zip").status_code == 200  # the link is served by the gateway


def test_a_viewer_gets_the_steps_without_the_secret(services, app) -> None:
    owner = make_user(services, "owner@shop.test")
    make_user(services, "viewer@shop.test")
    store_id = make_store(services, owner)
    add_member(services, store_id, "viewer@shop.test", "viewer")
    with services.uow() as uow:
        secret = uow.session.get(Store, store_id).webhook_secret  # type: ignore[union-attr]
    client = app.test_client()
    sign_in(client, "viewer@shop.test")
    html = client.get(f"/dashboard/stores/{store_id}/integrations").get_data(as_text=True)
    assert "saleor/api/manifest" in html and secret not in html and "Shown to the store&#39;s owners" in html
