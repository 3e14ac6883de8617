"""Issue 20, point 8: the fake Shopify checks every GraphQL document and its variables against the checked-in
Payments Apps schema of the pinned API version, so a mistake in a mutation fails the tests."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway_core.adapters.jsonwire import dumps
from gateway_core.config import Settings
from storefront_adapters.shopify import graphql
from storefront_adapters.shopify.wire import graphql_url
from tests.fakes.shopify import FakeShopify

SHOP = "schema-test.myshopify.com"
GID = "gid://shopify/PaymentSession/abc123"


@pytest.fixture
def shopify() -> Iterator[tuple[FakeShopify, str]]:
    with FakeShopify("key", "secret") as fake:
        yield fake, fake.install(SHOP)


def post(fake: FakeShopify, token: str, query: str, variables: dict[str, Any],
         version: str = Settings.shopify_api_version) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(graphql_url(fake.origin, version),
                                     dumps({"query": query, "variables": variables}).encode(),
                                     {"Content-Type": "application/json", "X-Shopify-Access-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def messages(answer: dict[str, Any]) -> str:
    return " | ".join(e["message"] for e in answer.get("errors") or [])


def test_every_document_the_gateway_sends_is_valid_for_the_pinned_version(shopify):
    fake, token = shopify
    calls = [graphql.pending(GID, datetime(2026, 1, 16, 12, tzinfo=UTC)), graphql.resolve(GID),
             graphql.reject(GID + "2", "expired"), graphql.reject_refund("gid://shopify/RefundSession/r1", "no"),
             graphql.configure("store-1")]
    for call in calls:
        status, answer = post(fake, token, call.query, call.variables)
        assert status == 200 and "errors" not in answer, (call.field, answer)
        assert answer["data"][call.field]["userErrors"] == []
    assert fake.state_of(GID) == "resolved" and fake.state_of(GID + "2") == "rejected"
    pending = post(fake, token, graphql.PAYMENT_SESSION_PENDING,
                   graphql.pending("gid://shopify/PaymentSession/p2", datetime(2026, 1, 16, tzinfo=UTC)).variables)[1]
    session = pending["data"]["paymentSessionPending"]["paymentSession"]
    assert session == {"id": "gid://shopify/PaymentSession/p2", "nextAction": {"action": "REDIRECT", "context": {
        "redirectUrl": f"https://{SHOP}/checkouts/c/p2/processing"}}}  # exactly what was selected


@pytest.mark.parametrize(("query", "variables", "expected"), [
    # a wrong argument name
    ("mutation($id: ID!) { paymentSessionResolve(sessionId: $id) { userErrors { message } } }", {"id": GID},
     "Unknown argument 'sessionId'"),
    # an enum value Shopify does not have
    (graphql.PAYMENT_SESSION_PENDING, {"id": GID, "pendingExpiresAt": "2026-01-16T12:00:00Z",
                                       "reason": "NOT_AN_ENUM"}, "NOT_AN_ENUM"),
    ("mutation { paymentSessionReject(id: \"x\", reason: {code: NOT_AN_ENUM}) { userErrors { message } } }", {},
     "NOT_AN_ENUM"),
    # a DateTime that is not one
    (graphql.PAYMENT_SESSION_PENDING, {"id": GID, "pendingExpiresAt": "tomorrow",
                                       "reason": "NETWORK_ACTION_REQUIRED"}, "Invalid DateTime"),
    # a missing $id: undeclared, or declared but not sent
    ("mutation { paymentSessionResolve(id: $id) { userErrors { message } } }", {}, "Variable '$id' is not defined"),
    (graphql.PAYMENT_SESSION_RESOLVE, {}, "Variable '$id' has invalid value"),
    ("mutation { paymentSessionResolve { userErrors { message } } }", {},
     "Argument 'Mutation.paymentSessionResolve(id:)' of type 'ID!' is required"),
    # selections the type does not have
    ("mutation($id: ID!) { paymentSessionResolve(id: $id) { paymentSession { id status } userErrors { message } } }",
     {"id": GID}, "Cannot query field 'status' on type 'PaymentSession'"),
    ("mutation($id: ID!) { paymentSessionResolve(id: $id) { paymentSession { nextAction { context { redirectUrl } } }"
     " userErrors { message } } }", {"id": GID}, "Cannot query field 'redirectUrl'"),
    # a misspelled mutation
    ("mutation($id: ID!) { paymentSessionResolved(id: $id) { userErrors { message } } }", {"id": GID},
     "Cannot query field 'paymentSessionResolved' on type 'Mutation'"),
    # a variable typed other than the argument
    ("mutation($id: String!) { paymentSessionResolve(id: $id) { userErrors { message } } }", {"id": GID},
     "Variable '$id' of type 'String!' used in position expecting type 'ID!'"),
    # an input object with a field its type does not have
    (graphql.PAYMENT_SESSION_REJECT, {"id": GID, "reason": {"code": "PROCESSING_ERROR", "message": "x"}},
     "not to include unknown field 'message'"),
])
def test_the_mistakes_a_document_can_make_fail_as_on_shopify(shopify, query, variables, expected):
    fake, token = shopify
    status, answer = post(fake, token, query, variables)
    assert status == 200 and answer.get("data") is None, answer
    assert expected in messages(answer)
    assert fake.sessions == {}  # nothing happened


def test_a_version_without_a_schema_is_not_served(shopify):
    fake, token = shopify
    status, answer = post(fake, token, graphql.PAYMENT_SESSION_RESOLVE, {"id": GID}, version="2019-04")
    assert status == 404 and answer == {"errors": "Not Found"}
