# ruff: noqa: F811 - pytest fixtures are imported from the support modules and used as arguments
"""Issue 7, point 4 (Saleor): the manifest, the merchant's consent, token registration."""

from __future__ import annotations

import json

from graphql import parse
from graphql.language import FieldNode, InlineFragmentNode, OperationDefinitionNode
from sqlalchemy import select

from gateway_core.adapters.models import PlatformInstallation
from storefront_adapters.saleor.installations import app_token
from tests.integration.notify_support import napp, nclient, nsvc, shop  # noqa: F401 - fixtures
from tests.integration.saleor_support import allow, cli, installed, nsettings, saleor  # noqa: F401 - fixtures

EXPECTED_EVENTS = {
    "PAYMENT_GATEWAY_INITIALIZE_SESSION": ("PaymentGatewayInitializeSession", "payment-gateway-initialize-session"),
    "TRANSACTION_INITIALIZE_SESSION": ("TransactionInitializeSession", "transaction-initialize-session"),
    "TRANSACTION_PROCESS_SESSION": ("TransactionProcessSession", "transaction-process-session"),
    "TRANSACTION_CANCELATION_REQUESTED": ("TransactionCancelationRequested", "transaction-cancelation-requested"),
}


def _installation(svc):
    with svc.uow() as uow:
        return uow.session.execute(select(PlatformInstallation)).scalar_one_or_none()


def test_manifest_declares_the_payment_app_with_real_subscription_queries(nclient):
    response = nclient.get("/saleor/api/manifest")
    assert response.status_code == 200
    manifest = response.get_json()
    assert manifest["id"] == "io.voltbridge.saleor" and manifest["name"] and manifest["about"]
    assert manifest["version"]
    assert manifest["permissions"] == ["HANDLE_PAYMENTS"]
    assert manifest["tokenTargetUrl"] == "https://gateway.test/saleor/api/register"
    assert manifest["appUrl"] == "https://gateway.test/saleor/api/app"
    assert nclient.get("/saleor/api/app").status_code == 200
    hooks = {event: hook for hook in manifest["webhooks"] for event in hook["syncEvents"]}
    assert set(hooks) == set(EXPECTED_EVENTS)
    for event, (typename, slug) in EXPECTED_EVENTS.items():
        hook = hooks[event]
        assert hook["targetUrl"] == f"https://gateway.test/saleor/api/webhooks/{slug}" and hook["isActive"]
        (operation,) = parse(hook["query"]).definitions  # GraphQL syntax, as Saleor validates it at install
        assert isinstance(operation, OperationDefinitionNode) and operation.operation.value == "subscription"
        (event_field,) = operation.selection_set.selections
        assert isinstance(event_field, FieldNode) and event_field.name.value == "event"
        (fragment,) = event_field.selection_set.selections
        assert isinstance(fragment, InlineFragmentNode) and fragment.type_condition.name.value == typename
        fields = {s.name.value for s in fragment.selection_set.selections if isinstance(s, FieldNode)}
        assert {"transaction", "action"} <= fields or event == "PAYMENT_GATEWAY_INITIALIZE_SESSION"
    initialize = hooks["TRANSACTION_INITIALIZE_SESSION"]["query"]
    for needed in ("action { amount currency actionType }", "transaction { id pspReference }",
                   "... on Checkout { id", "... on Order { id number", "merchantReference"):
        assert needed in initialize


def test_registration_from_an_allowed_instance_keeps_the_token_encrypted_with_app_id_and_jwks(
        napp, nclient, nsvc, shop, saleor):
    allowed = allow(napp, shop.id, saleor.api_url)
    assert allowed["store_id"] == shop.id and allowed["api_url"] == saleor.api_url and allowed["new"] is True
    assert allowed["manifest_url"] == "https://gateway.test/saleor/api/manifest"
    response = saleor.install(nclient)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["app_id"] == saleor.app_id
    assert saleor.app_queries == [f"Bearer {saleor.token}"] and saleor.jwks_fetches == 1
    row = _installation(nsvc)
    assert row.store_id == shop.id and row.platform == "saleor" and row.account == saleor.api_url
    assert row.data["status"] == "registered" and row.data["app_id"] == saleor.app_id
    assert row.data["jwks"]["keys"][0]["kid"] == saleor.key.kid
    assert saleor.token not in (row.credentials_encrypted or "") and saleor.token not in json.dumps(row.data)
    assert app_token(nsvc.vault, row) == saleor.token
    listed = cli(napp, "saleor", "list", "--json")
    assert json.loads(listed.output) == [{"api_url": saleor.api_url, "store_id": shop.id, "status": "registered",
                                          "app_id": saleor.app_id, "registered_at": row.data["registered_at"]}]
    assert saleor.token not in listed.output


def test_reinstalling_replaces_the_token(napp, nclient, nsvc, shop, installed):
    first = installed.token
    assert installed.install(nclient).status_code == 200
    assert installed.token != first and app_token(nsvc.vault, _installation(nsvc)) == installed.token


def test_an_instance_the_merchant_did_not_allow_is_refused_without_calling_it(nclient, nsvc, saleor):
    response = saleor.install(nclient)
    assert response.status_code == 403
    error = response.get_json()["error"]  # Saleor shows error.message when an install fails
    assert error["code"] == "INSTANCE_NOT_ALLOWED"
    assert f"voltbridge saleor allow <store> --api-url {saleor.api_url}" in error["message"]
    assert saleor.app_queries == [] and saleor.jwks_fetches == 0
    assert _installation(nsvc) is None


def test_a_made_up_token_for_an_allowed_instance_is_refused(napp, nclient, nsvc, shop, saleor):
    allow(napp, shop.id, saleor.api_url)
    saleor.read_manifest(nclient.get("/saleor/api/manifest").get_json())
    saleor.token = "the-real-token-nobody-else-knows"
    response = nclient.post("/saleor/api/register", data=json.dumps({"auth_token": "forged-token-123"}),
                            headers=saleor.install_headers())
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "REGISTRATION_FAILED" and "PermissionDenied" in error["message"]
    row = _installation(nsvc)
    assert row.credentials_encrypted is None and row.data["status"] == "allowed"


def test_registration_needs_the_token_and_the_api_url(napp, nclient, shop, saleor):
    allow(napp, shop.id, saleor.api_url)
    no_token = nclient.post("/saleor/api/register", data="{}", headers=saleor.install_headers())
    assert no_token.status_code == 400 and no_token.get_json()["error"]["fields"] == {
        "auth_token": "the app token Saleor sends"}
    headers = {k: v for k, v in saleor.install_headers().items() if k != "Saleor-Api-Url"}
    no_url = nclient.post("/saleor/api/register", data=json.dumps({"auth_token": "a-token-123"}), headers=headers)
    assert no_url.status_code == 400 and "Saleor-Api-Url" in no_url.get_json()["error"]["message"]
    not_json = nclient.post("/saleor/api/register", data="auth_token=x", headers=saleor.install_headers())
    assert not_json.status_code == 400 and not_json.get_json()["error"]["code"] == "INVALID_JSON"


def test_allow_binds_one_instance_to_one_store_and_checks_the_url(napp, nsvc, shop, saleor):
    from gateway_core.stores.manage import create_store

    with nsvc.uow() as uow:
        other = create_store(uow, nsvc.vault, name="Other Shop", network="sandbox")
    assert allow(napp, shop.id, saleor.api_url)["new"] is True
    again = allow(napp, shop.id, "HTTP://" + saleor.api_url[len("http://"):].rstrip("/"))
    assert again["new"] is False and again["api_url"] == saleor.api_url  # one spelling per instance
    taken = cli(napp, "saleor", "allow", str(other.id), "--api-url", saleor.api_url)
    assert taken.exit_code != 0 and f"already bound to store {shop.id}" in taken.output
    private = cli(napp, "saleor", "allow", str(shop.id), "--api-url", "http://10.0.0.5/graphql/")
    assert private.exit_code != 0 and "not allowed" in private.output
    bad = cli(napp, "saleor", "allow", str(shop.id), "--api-url", "ftp://shop.example.com/graphql/")
    assert bad.exit_code != 0 and "Invalid Saleor API URL" in bad.output
    unknown = cli(napp, "saleor", "allow", "No Such Shop", "--api-url", saleor.api_url)
    assert unknown.exit_code != 0 and "not found" in unknown.output
    human = cli(napp, "saleor", "allow", str(shop.id), "--api-url", saleor.api_url)
    assert "was already allowed" in human.output and "/saleor/api/manifest" in human.output
