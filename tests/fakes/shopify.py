"""A fake Shopify on 127.0.0.1: the OAuth token endpoint and the Payments Apps GraphQL API of every shop,
with documented response shapes, every call recorded, and failures on demand (to show the outbox retrying).

Every GraphQL document is validated and executed against the checked-in Payments Apps schema of the API
version in the URL (tests/contracts/shopify/payments-apps-<version>.graphql, graphql-core's build_schema,
validate, variable coercion and execution): unknown fields or arguments, wrong enum values, a DateTime that is
not ISO 8601, an undeclared or missing variable get Shopify's 200 with `errors`, and the answer holds exactly
the fields selected. A version with no schema file is a 404, as an unsupported version is on Shopify.

Also what Shopify sends us, signed as Shopify signs it (written from Shopify's docs, independently of
storefront_adapters.shopify.wire): payment and refund session requests, the OAuth callback query (hex
HMAC-SHA256 of the sorted query), and webhooks (base64 HMAC-SHA256 of the raw body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute_sync,
    parse,
    validate,
    value_from_ast_untyped,
)
from graphql.execution.values import get_variable_values

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
GRAPHQL_PATH = re.compile(r"^/payments_apps/api/(?P<version>[0-9]{4}-[0-9]{2}|unstable)/graphql\.json$")
SCHEMAS = Path(__file__).resolve().parents[1] / "contracts" / "shopify"
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _datetime(value: Any) -> str:
    if not isinstance(value, str) or not ISO_DATETIME.match(value):
        raise GraphQLError(f"Invalid DateTime: {value!r} is not an ISO 8601 date and time with an offset")
    datetime.fromisoformat(value.replace("Z", "+00:00"))  # a real date (no 2026-02-30)
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise GraphQLError(f"Invalid URL: {value!r}")
    return value


@cache
def payments_apps_schema(version: str) -> GraphQLSchema | None:
    """The checked-in Payments Apps schema of this API version, with its custom scalars checked (None: none)."""
    path = SCHEMAS / f"payments-apps-{version}.graphql"
    if not path.is_file():
        return None
    schema = build_schema(path.read_text())
    for name, check in (("DateTime", _datetime), ("URL", _url)):
        scalar = schema.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)

        def literal(node: Any, variables: Any = None, check: Any = check) -> Any:
            return check(value_from_ast_untyped(node, variables))

        # graphql-core 3.3 coerces with coerce_input_*; 3.2 with parse_*
        for attribute, function in (("coerce_input_value", check), ("parse_value", check),
                                    ("coerce_input_literal", literal), ("parse_literal", literal)):
            setattr(scalar, attribute, function)
    return schema


@dataclass
class Call:
    """One request the fake answered: GraphQL mutations carry their root field and variables."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    field: str | None = None

    @property
    def variables(self) -> dict[str, Any]:
        return dict(self.body.get("variables") or {})


@dataclass
class _Session:
    state: str = "open"  # open | pending | resolved | rejected
    reason: dict[str, Any] | None = None
    pending_expires_at: str | None = None


@dataclass
class FakeShopify:
    """`with FakeShopify(api_key, api_secret) as shopify:` then point SHOPIFY_API_ORIGIN at shopify.origin."""

    api_key: str
    api_secret: str
    scope: str = "write_payment_gateways,write_payment_sessions"
    calls: list[Call] = field(default_factory=list)
    sessions: dict[str, _Session] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    configured: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> shop
    codes: dict[str, str] = field(default_factory=dict)  # authorization code -> shop
    failures: list[str] = field(default_factory=list)  # queued: "http_500", "graphql_errors", "throttled"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, answer, mutation = fake._answer(self.path, dict(self.headers.items()), raw)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                with fake._lock:
                    fake.calls.append(Call(self.path, dict(self.headers.items()), body, status, mutation))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeShopify:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what tests set up and read ------------------------------------------------------------------------

    def issue_code(self, shop: str) -> str:
        """An authorization code, as Shopify hands one to the callback after the merchant's consent."""
        code = secrets.token_hex(16)
        self.codes[code] = shop
        return code

    def install(self, shop: str) -> str:
        """A valid access token for shop (an already-installed app)."""
        token = "shpat_" + secrets.token_hex(16)
        self.tokens[token] = shop
        return token

    def uninstall(self, shop: str) -> None:
        """The merchant removed the app: its tokens stop working."""
        for token in [t for t, s in self.tokens.items() if s == shop]:
            del self.tokens[token]

    def fail_next(self, *modes: str) -> None:
        self.failures.extend(modes)

    def mutations(self, name: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.field and (name is None or c.field == name) and c.status == 200]

    def state_of(self, gid: str) -> str:
        return self.sessions.get(gid, _Session()).state

    def set_state(self, gid: str, state: str) -> None:
        """Move a session on Shopify's side (e.g. rejected there), so our next mutation meets that state."""
        self.sessions[gid] = _Session(state)

    # -- answering -----------------------------------------------------------------------------------------

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, str | None]:
        if path == "/admin/oauth/access_token":
            return self._token(raw)
        match = GRAPHQL_PATH.match(path)
        schema = payments_apps_schema(match.group("version")) if match else None
        if schema is None:
            return 404, {"errors": "Not Found"}, None
        token = next((v for k, v in headers.items() if k.lower() == "x-shopify-access-token"), "")
        shop = self.tokens.get(token)
        if shop is None:
            return 401, {"errors": INVALID_TOKEN}, None
        try:
            request = json.loads(raw)
            document = parse(request["query"])
        except (ValueError, KeyError, TypeError, GraphQLError) as exc:
            return 200, {"errors": [{"message": f"Parse error: {exc}", "extensions": {"code": "PARSE_ERROR"}}]}, None
        problems = validate(schema, document)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if not problems and len(operations) == 1:
            coerced = get_variable_values(schema, operations[0].variable_definitions or (),
                                          request.get("variables") or {})
            problems = coerced if isinstance(coerced, list) else []
        if problems:
            return 200, {"errors": [_error(p) for p in problems]}, None
        (root,) = operations[0].selection_set.selections
        assert isinstance(root, FieldNode)
        mutation = root.name.value
        with self._lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure == "http_500":
            return 500, {"errors": "Internal Server Error"}, mutation
        if failure == "throttled":
            return 200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}, mutation
        if failure == "graphql_errors":
            return 200, {"errors": [{"message": "Internal error. Looks like something went wrong on our end.",
                                     "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}, mutation
        root_value = {name: (lambda _info, _name=name, **args: self._mutate(shop, _name, args))
                      for name in schema.type_map["Mutation"].fields}  # type: ignore[attr-defined]
        result = execute_sync(schema, document, root_value, variable_values=request.get("variables") or {})
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [_error(e) for e in result.errors]
        return 200, answer, mutation

    def _token(self, raw: bytes) -> tuple[int, Any, None]:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "invalid_request"}, None
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.api_secret:
            return 400, {"error": "invalid_client", "error_description": "Client authentication failed"}, None
        shop = self.codes.pop(body.get("code", ""), None)
        if shop is None:
            return 400, {"error": "invalid_request",
                         "error_description": "The authorization code was not found or was already used"}, None
        return 200, {"access_token": self.install(shop), "scope": self.scope}, None

    def _mutate(self, shop: str, mutation: str, args: dict[str, Any]) -> dict[str, Any]:
        """One mutation with its coerced arguments; the answer carries every field, GraphQL picks the selected."""
        if mutation == "paymentsAppConfigure":
            self.configured[shop] = args
            return {"paymentsAppConfiguration": {"externalHandle": args.get("externalHandle"),
                                                 "ready": args["ready"]}, "userErrors": []}
        if mutation in ("refundSessionReject", "refundSessionResolve"):
            if mutation == "refundSessionReject":
                self.refunds[args["id"]] = args["reason"]
            state = ({"__typename": "RefundSessionStateRejected", "code": "REJECTED",
                      "merchantMessage": args["reason"].get("merchantMessage"), "reason": args["reason"]["code"]}
                     if mutation == "refundSessionReject"
                     else {"__typename": "RefundSessionStateResolved", "code": "RESOLVED"})
            return {"refundSession": {"id": args["id"], "state": state}, "userErrors": []}
        gid = args["id"]
        session = self.sessions.setdefault(gid, _Session())
        target = {"paymentSessionPending": "pending", "paymentSessionResolve": "resolved",
                  "paymentSessionReject": "rejected"}[mutation]
        allowed = {"pending": {"open"}, "resolved": {"open", "pending", "resolved"},
                   "rejected": {"open", "pending", "rejected"}}[target]
        if session.state not in allowed:
            return {"paymentSession": None,
                    "userErrors": [{"field": ["id"], "message": f"Payment session is already {session.state}",
                                    "code": "PAYMENT_SESSION_INVALID_STATE"}]}
        session.state = target
        if target == "rejected" and session.reason is None:
            session.reason = args.get("reason")
        if target == "pending":
            session.pending_expires_at = args["pendingExpiresAt"]
        token = gid.rsplit("/", 1)[-1]
        return {"paymentSession": {
            "id": gid, "authorizationExpiresAt": None, "pendingExpiresAt": session.pending_expires_at,
            "state": self._state(session),
            "nextAction": {"action": "REDIRECT", "context": {
                "__typename": "PaymentSessionActionsRedirect",
                "redirectUrl": f"https://{shop}/checkouts/c/{token}/processing"}}}, "userErrors": []}

    @staticmethod
    def _state(session: _Session) -> dict[str, Any]:
        if session.state == "pending":
            return {"__typename": "PaymentSessionStatePending", "code": "PENDING", "reason": None}
        if session.state == "rejected":
            reason = session.reason or {}
            return {"__typename": "PaymentSessionStateRejected", "code": "REJECTED",
                    "reason": reason.get("code", "PROCESSING_ERROR"), "merchantMessage": reason.get("merchantMessage")}
        return {"__typename": "PaymentSessionStateResolved", "code": "RESOLVED"}


def _error(error: GraphQLError) -> dict[str, Any]:
    """A GraphQL error as Shopify words one (message, locations, path)."""
    formatted: dict[str, Any] = dict(error.formatted)
    formatted.setdefault("extensions", {"code": "GRAPHQL_VALIDATION_FAILED"})
    return formatted


# -- what Shopify sends us -------------------------------------------------------------------------------------


def payment_session(session_id: str | None = None, amount: Any = "123.00", currency: str = "USD",
                    test: bool = True, **extra: Any) -> dict[str, Any]:
    """A start-payment request body as in Shopify's Payments Apps request reference (offsite)."""
    session_id = session_id or secrets.token_urlsafe(18)
    body = {
        "id": session_id, "gid": f"gid://shopify/PaymentSession/{session_id}",
        "group": base64.b64encode(secrets.token_bytes(32)).decode(),
        "session_id": base64.b64encode(secrets.token_bytes(32)).decode(),
        "amount": amount, "currency": currency, "test": test, "merchant_locale": "en",
        "payment_method": {"type": "offsite", "data": {
            "cancel_url": "https://my-test-shop.com/1/checkouts/4c94d6f5b93f726a82dadfe45cdde432"}},
        "proposed_at": "2026-01-15T12:00:00Z",
        "customer": {"email": "buyer@example.com", "phone_number": "5555555555", "locale": "fr",
                     "billing_address": {"given_name": "Alice", "family_name": "Smith", "line1": "123 Street",
                                         "line2": "Suite B", "city": "Montreal", "postal_code": "H2Z 0B3",
                                         "province": "Quebec", "country_code": "CA", "company": ""},
                     "shipping_address": {"given_name": "Alice", "family_name": "Smith", "line1": "123 Street",
                                          "line2": "Suite B", "city": "Montreal", "postal_code": "H2Z 0B3",
                                          "province": "Quebec", "country_code": "CA", "company": ""}},
        "kind": "sale",
    }
    body.update(extra)
    return body


def refund_session(payment_id: str, amount: str = "123.00", currency: str = "USD", test: bool = True,
                   refund_id: str | None = None) -> dict[str, Any]:
    """A refund session request body (Payments Apps request reference)."""
    refund_id = refund_id or secrets.token_urlsafe(18)
    return {"id": refund_id, "gid": f"gid://shopify/RefundSession/{refund_id}", "payment_id": payment_id,
            "amount": amount, "currency": currency, "test": test, "merchant_locale": "en",
            "proposed_at": "2026-01-16T12:00:00Z"}


def session_headers(shop: str, subject: str | None = None) -> dict[str, str]:
    """Shopify's request headers; `subject` is what a TLS terminator adds after verifying Shopify's cert."""
    headers = {"Shopify-Shop-Domain": shop, "Shopify-Request-Id": secrets.token_hex(8),
               "Shopify-Api-Version": "2025-07"}
    if subject is not None:
        headers["X-Client-Cert-Subject"] = subject
    return headers


def signed_query(params: dict[str, Any], secret: str) -> str:
    """Shopify's signed redirect query: hmac = hex HMAC-SHA256 of the other params as `key=value` ('&', '%' and
    '=' escaped; `key[]` lists as key=["a", "b"]), sorted and joined by '&'. List values repeat the key."""
    def pair(key: str, value: Any) -> str:
        if key.endswith("[]"):
            key, value = key[:-2], json.dumps([str(v) for v in value])
        return f"{key.replace('%', '%25').replace('=', '%3D')}={str(value).replace('%', '%25')}".replace("&", "%26")

    message = "&".join(sorted(pair(k, v) for k, v in params.items()))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "hmac": digest}, doseq=True)


def webhook_headers(topic: str, shop: str, body: bytes, secret: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Hmac-Sha256": digest, "X-Shopify-Webhook-Id": secrets.token_hex(8),
            "X-Shopify-API-Version": "2025-07", "X-Shopify-Triggered-At": "2026-01-15T12:00:00Z"}
