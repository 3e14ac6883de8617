"""A Saleor instance on 127.0.0.1, as the payment app sees one: it installs the app from its manifest, signs
sync webhooks the way Saleor core does, publishes its JWKS, and answers the app's GraphQL.

- Install: GET the manifest, check it like Saleor's Manifest schema (required fields, permissions, sync events,
  parseable subscription queries), then POST {"auth_token"} to tokenTargetUrl with Saleor's install headers.
- Webhooks: the payload is the `event` object of the webhook's own subscription query, run (projected) over a
  full event object; Decimals go out as JSON floats (Saleor's Decimal scalar is a Float); the body is signed with
  PyJWT's `api_jws.encode(body, key, "RS256", headers={"kid": <JWK thumbprint>}, is_payload_detached=True)`.
- GET /.well-known/jwks.json: the current public key only (as Saleor publishes it); every fetch is counted.
- POST /graphql/: `query { app { id } }` and `transactionEventReport`, authorised by the app token, answered in
  the shape the selection set asks for; reports are recorded; `fail_next()` makes the next calls fail.
- Transactions keep their events as Saleor core does (saleor/payment/utils.py, transaction_item_calculations.py,
  graphql/payment/mutations/transaction/transaction_event_report.py):
  * transactionInitialize records Saleor's own request event (CHARGE_REQUEST, not in calculations), calls the
    app and applies its answer: a CHARGE_REQUEST answer becomes that request event, any other result a new
    event whose pspReference the request event takes;
  * a session answer's `actions` are applied only with AUTHORIZATION_REQUEST/SUCCESS, CHARGE_REQUEST and
    CHARGE_SUCCESS results; a transactionEventReport's availableActions always (also when already processed);
  * duplicates: an event with the same transaction, pspReference and type (ACTION_REQUIRED and INFO never
    count) makes a report `alreadyProcessed: true` and changes nothing, or an INCORRECT_DETAILS error when the
    amount differs;
  * transactionProcess returns the recorded event without calling the app once a final session result
    (AUTHORIZATION_*/CHARGE_REQUEST/SUCCESS/FAILURE) is in calculations;
  * charged and pending amounts are recalculated from the events grouped by pspReference; the dashboard's
    Cancel button exists only while CANCEL is among the transaction's availableActions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from graphql import parse
from graphql.language import FieldNode, InlineFragmentNode, OperationDefinitionNode, SelectionSetNode, VariableNode
from graphql.language.ast import ValueNode
from jwt import api_jws
from jwt.algorithms import RSAAlgorithm

PERMISSIONS = {"HANDLE_PAYMENTS", "HANDLE_CHECKOUTS", "MANAGE_ORDERS", "MANAGE_CHECKOUTS", "MANAGE_APPS"}
SYNC_EVENTS = {"PAYMENT_GATEWAY_INITIALIZE_SESSION", "TRANSACTION_INITIALIZE_SESSION", "TRANSACTION_PROCESS_SESSION",
               "TRANSACTION_CANCELATION_REQUESTED", "TRANSACTION_CHARGE_REQUESTED", "TRANSACTION_REFUND_REQUESTED"}
EVENT_TYPES = {"AUTHORIZATION_SUCCESS", "AUTHORIZATION_FAILURE", "AUTHORIZATION_ACTION_REQUIRED",
               "AUTHORIZATION_REQUEST", "AUTHORIZATION_ADJUSTMENT", "CHARGE_SUCCESS", "CHARGE_FAILURE",
               "CHARGE_ACTION_REQUIRED",
               "CHARGE_REQUEST", "CHARGE_BACK", "REFUND_SUCCESS", "REFUND_FAILURE", "REFUND_REQUEST",
               "REFUND_REVERSE", "CANCEL_SUCCESS", "CANCEL_FAILURE", "CANCEL_REQUEST", "INFO"}
ACTIONS = {"CHARGE", "REFUND", "CANCEL"}
# Results whose `actions` Saleor applies when a session webhook answers with them.
ACTIONS_APPLIED_WITH = {"AUTHORIZATION_REQUEST", "AUTHORIZATION_SUCCESS", "CHARGE_REQUEST", "CHARGE_SUCCESS"}
SESSION_RESULTS = {"CHARGE_SUCCESS", "CHARGE_FAILURE", "CHARGE_REQUEST", "CHARGE_ACTION_REQUIRED",
                   "AUTHORIZATION_SUCCESS", "AUTHORIZATION_FAILURE", "AUTHORIZATION_REQUEST",
                   "AUTHORIZATION_ACTION_REQUIRED", "CANCEL_SUCCESS"}
FINAL_SESSION_RESULTS = {"AUTHORIZATION_FAILURE", "AUTHORIZATION_SUCCESS", "AUTHORIZATION_REQUEST", "CHARGE_FAILURE",
                         "CHARGE_SUCCESS", "CHARGE_REQUEST"}
NEVER_DUPLICATE = {"AUTHORIZATION_ACTION_REQUIRED", "CHARGE_ACTION_REQUIRED", "INFO"}
AMOUNT_REQUIRED = {"AUTHORIZATION_REQUEST", "AUTHORIZATION_SUCCESS", "AUTHORIZATION_ACTION_REQUIRED",
                   "AUTHORIZATION_ADJUSTMENT", "CHARGE_REQUEST", "CHARGE_SUCCESS", "CHARGE_ACTION_REQUIRED",
                   "REFUND_REQUEST", "REFUND_SUCCESS", "CANCEL_REQUEST", "CANCEL_SUCCESS"}
PERMISSION_DENIED = {"message": "To access this path, you need one of the following permissions: "
                                "AUTHENTICATED_STAFF_USER, AUTHENTICATED_APP",
                     "extensions": {"exception": {"code": "PermissionDenied"}}}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def global_id(kind: str, key: object) -> str:
    """Saleor's Relay ids: base64 of '<Type>:<key>'."""
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


class SigningKey:
    """One of Saleor's RSA keys; its kid is the RFC 7638 thumbprint, as newer Saleor versions publish it."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
        self.kid = _b64url(hashlib.sha256(canonical.encode()).digest())
        self.jwk = {**jwk, "use": "sig", "kid": self.kid}

    def sign(self, body: bytes) -> str:
        return api_jws.encode(body, key=self.private, algorithm="RS256", headers={"kid": self.kid},
                              is_payload_detached=True)


# -- GraphQL selection sets over plain objects ----------------------------------------------------------------


def project(selection: SelectionSetNode, value: Any) -> Any:
    """What a GraphQL server returns for `selection` over `value` (fields, aliases, inline fragments)."""
    if isinstance(value, list):
        return [project(selection, item) for item in value]
    if value is None:
        return None
    out: dict[str, Any] = {}
    for node in selection.selections:
        if isinstance(node, InlineFragmentNode):
            if node.type_condition is None or node.type_condition.name.value == value.get("__typename"):
                out.update(project(node.selection_set, value))
            continue
        assert isinstance(node, FieldNode), f"unsupported selection {node.kind}"
        name = node.name.value
        if name not in value:
            raise KeyError(f"the fake Saleor has no field {name!r} on {value.get('__typename')}")
        child = value[name]
        out[node.alias.value if node.alias else name] = (
            project(node.selection_set, child) if node.selection_set is not None else child)
    return out


def _operation(query: str, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        operations = [op for op in operations if op.name is not None and op.name.value == name]
    assert len(operations) == 1, "exactly one operation must be selected"
    return operations[0]


def _argument(value: ValueNode, variables: dict[str, Any]) -> Any:
    if isinstance(value, VariableNode):
        return variables.get(value.name.value)
    return getattr(value, "value", None)


def _floats(value: Any) -> Any:
    """Saleor's Decimal scalar is a graphene Float: amounts leave Saleor as JSON floats."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


# -- the instance ------------------------------------------------------------------------------------------


@dataclass
class Transaction:
    """A Saleor TransactionItem: its events (dicts: type, pspReference, amount, message, include, by) and the
    actions the dashboard offers."""

    id: str
    amount: Decimal
    currency: str
    checkout_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    available_actions: list[str] = field(default_factory=list)
    psp_reference: str = ""

    def add_event(self, type_: str, psp_reference: str, amount: Decimal, message: str = "", include: bool = True,
                  by: str | None = "app") -> dict[str, Any]:
        event = {"__typename": "TransactionEvent", "id": global_id("TransactionEvent", uuid.uuid4()),
                 "type": type_, "pspReference": psp_reference, "amount": Decimal(amount), "message": message,
                 "include": include, "by": by}
        self.events.append(event)
        return event

    def existing(self, type_: str, psp_reference: str) -> dict[str, Any] | None:
        """saleor.payment.utils.get_already_existing_event."""
        if type_ in NEVER_DUPLICATE:
            return None
        return next((e for e in self.events if (e["type"], e["pspReference"]) == (type_, psp_reference)), None)

    def amounts(self) -> dict[str, Decimal]:
        """recalculate_transaction_amounts for the charge and cancel groups (events by pspReference)."""
        groups: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        for event in self.events:
            if not event.get("include", True) or not event["pspReference"]:
                continue
            kind, _, stage = event["type"].partition("_")
            if kind in ("CHARGE", "CANCEL") and stage in ("REQUEST", "SUCCESS", "FAILURE"):
                groups.setdefault((kind, event["pspReference"]), {})[stage] = event
        totals = {"charged": Decimal(0), "chargePending": Decimal(0), "canceled": Decimal(0),
                  "cancelPending": Decimal(0)}
        for (kind, _), stages in groups.items():
            done, pending = ("charged", "chargePending") if kind == "CHARGE" else ("canceled", "cancelPending")
            if "REQUEST" in stages and not ("SUCCESS" in stages or "FAILURE" in stages):
                totals[pending] += stages["REQUEST"]["amount"]
            if "SUCCESS" in stages and ("FAILURE" not in stages or
                                        self.events.index(stages["SUCCESS"]) > self.events.index(stages["FAILURE"])):
                totals[done] += stages["SUCCESS"]["amount"]
        return totals

    def charge_status(self) -> str:
        """The checkout's charge status: pending charges count as covering it (checkout/payment_utils.py)."""
        amounts = self.amounts()
        covered = amounts["charged"] + amounts["chargePending"]
        if covered <= 0:
            return "NONE"
        return "FULL" if covered >= self.amount else "PARTIAL"


@dataclass(frozen=True)
class Report:
    """One transactionEventReport call as Saleor received it."""

    variables: dict[str, Any]
    authorization: str | None
    answered: str  # "ok", "already_processed", or the failure served


class FakeSaleor:
    """`with FakeSaleor() as saleor: saleor.install(client)`; then signed webhooks with saleor.webhook(...)."""

    def __init__(self) -> None:
        self.key = SigningKey()
        self.app_pk = 1
        self.token: str | None = None
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.transactions: dict[str, Transaction] = {}
        self.reports: list[Report] = []
        self.app_queries: list[str | None] = []
        self.jwks_fetches = 0
        self._failures: list[str] = []
        self._lock = threading.Lock()
        saleor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def do_GET(self) -> None:
                if urlsplit(self.path).path == "/.well-known/jwks.json":
                    with saleor._lock:
                        saleor.jwks_fetches += 1
                        keys = {"keys": [saleor.key.jwk]}
                    self._answer(200, keys)
                    return
                self._answer(404, {"detail": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if urlsplit(self.path).path != "/graphql/":
                    self._answer(404, {"detail": "not found"})
                    return
                status, payload = saleor._graphql(json.loads(raw, parse_float=Decimal),
                                                  self.headers.get("Authorization"))
                self._answer(status, payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- addresses and headers ---------------------------------------------------------------------------

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.domain}/graphql/"

    @property
    def app_id(self) -> str:
        return global_id("App", self.app_pk)

    def install_headers(self) -> dict[str, str]:
        """saleor.app.installation_utils.send_app_token's headers."""
        return {"Content-Type": "application/json", "X-Saleor-Domain": self.domain, "Saleor-Domain": self.domain,
                "Saleor-Api-Url": self.api_url, "Saleor-Schema-Version": "3.20"}

    def webhook_headers(self, event: str, signature: str) -> dict[str, str]:
        """saleor.webhook.transport.utils.send_webhook_using_http's headers (the event in lower case)."""
        name = event.lower()
        return {"Content-Type": "application/json", "X-Saleor-Event": name, "X-Saleor-Domain": self.domain,
                "X-Saleor-Signature": signature, "Saleor-Event": name, "Saleor-Domain": self.domain,
                "Saleor-Signature": signature, "Saleor-Api-Url": self.api_url}

    # -- installing the app ------------------------------------------------------------------------------

    def read_manifest(self, manifest: dict[str, Any]) -> None:
        """Saleor's manifest checks: required fields, known permissions and sync events, valid queries."""
        for name in ("id", "version", "name", "about", "tokenTargetUrl"):
            assert manifest.get(name), f"manifest field {name} is required"
        assert set(manifest.get("permissions", [])) <= PERMISSIONS, "unknown permission"
        for hook in manifest.get("webhooks", []):
            assert hook["name"] and hook["targetUrl"].startswith(("http://", "https://"))
            assert set(hook["syncEvents"]) <= SYNC_EVENTS and hook["syncEvents"], "unknown sync event"
            operation = _operation(hook["query"], None)
            assert operation.operation.value == "subscription", "a webhook query must be a subscription"
            (event_field,) = operation.selection_set.selections
            assert isinstance(event_field, FieldNode) and event_field.name.value == "event"
            for event in hook["syncEvents"]:
                self.webhooks[event] = {**hook, "operation": operation}

    def install(self, client: Any, manifest_path: str = "/saleor/api/manifest") -> Any:
        """Install from the manifest through a Flask test client, as Saleor's install task does over HTTP."""
        manifest = client.get(manifest_path).get_json()
        self.read_manifest(manifest)
        self.token = secrets.token_urlsafe(30)
        return client.post(urlsplit(manifest["tokenTargetUrl"]).path, data=json.dumps({"auth_token": self.token}),
                           headers=self.install_headers())

    def rotate_key(self) -> None:
        with self._lock:
            self.key = SigningKey()

    # -- transactions and their webhooks -----------------------------------------------------------------

    def new_transaction(self, amount: str, currency: str = "USD") -> Transaction:
        tx = Transaction(global_id("TransactionItem", uuid.uuid4()), Decimal(amount), currency,
                         global_id("Checkout", uuid.uuid4()))
        self.transactions[tx.id] = tx
        return tx

    def _checkout(self, tx: Transaction) -> dict[str, Any]:
        return {"__typename": "Checkout", "id": tx.checkout_id, "email": "buyer@example.com",
                "channel": {"__typename": "Channel", "slug": "default-channel"},
                "totalPrice": {"gross": {"amount": tx.amount, "currency": tx.currency}}}

    def _common(self, tx: Transaction) -> dict[str, Any]:
        return {"issuedAt": "2026-01-15T12:00:00+00:00", "version": "3.20.0",
                "recipient": {"__typename": "App", "id": self.app_id, "name": "voltbridge"},
                "transaction": {"__typename": "TransactionItem", "id": tx.id, "pspReference": "",
                                "token": str(uuid.uuid4()), "name": "", "message": ""}}

    def initialize_event(self, tx: Transaction, action_type: str = "CHARGE", amount: str | None = None,
                         currency: str | None = None) -> dict[str, Any]:
        return {**self._common(tx), "__typename": "TransactionInitializeSession",
                "idempotencyKey": secrets.token_hex(8), "merchantReference": tx.id, "data": None,
                "customerIpAddress": "203.0.113.7",
                "action": {"__typename": "TransactionProcessAction",
                           "amount": Decimal(amount) if amount else tx.amount, "currency": currency or tx.currency,
                           "actionType": action_type},
                "sourceObject": self._checkout(tx)}

    def process_event(self, tx: Transaction) -> dict[str, Any]:
        event = self.initialize_event(tx)
        event.pop("idempotencyKey")
        return {**event, "__typename": "TransactionProcessSession"}

    def cancel_event(self, tx: Transaction, psp_reference: str = "") -> dict[str, Any]:
        common = self._common(tx)
        common["transaction"]["pspReference"] = psp_reference
        return {**common, "__typename": "TransactionCancelationRequested",
                "action": {"__typename": "TransactionAction", "actionType": "CANCEL", "amount": tx.amount,
                           "currency": tx.currency}}

    def gateway_event(self, tx: Transaction) -> dict[str, Any]:
        return {"__typename": "PaymentGatewayInitializeSession", "issuedAt": "2026-01-15T12:00:00+00:00",
                "version": "3.20.0", "recipient": {"__typename": "App", "id": self.app_id},
                "amount": tx.amount, "data": None, "sourceObject": self._checkout(tx)}

    def webhook(self, event: str, obj: dict[str, Any], sign: Callable[[bytes], str] | None = None
                ) -> tuple[str, bytes, dict[str, str]]:
        """(path, body, headers) of the sync webhook Saleor would POST for `event` with this event object."""
        hook = self.webhooks[event]
        (event_field,) = hook["operation"].selection_set.selections
        assert event_field.selection_set is not None
        payload = project(event_field.selection_set, obj)
        body = json.dumps(_floats(payload)).encode()
        signature = (sign or self.key.sign)(body)
        return urlsplit(hook["targetUrl"]).path, body, self.webhook_headers(event, signature)

    # -- Saleor's side of the session webhooks (what the storefront's and dashboard's mutations do) ---------

    def transaction_initialize(self, client: Any, tx: Transaction, action_type: str = "CHARGE",
                               **fields: Any) -> tuple[Any, dict[str, Any] | None]:
        """transactionInitialize: Saleor's request event, the webhook, then the answer applied to the transaction.

        Returns the HTTP response and the event Saleor recorded for the answer (None if it was not JSON)."""
        request_type = "CHARGE_REQUEST" if action_type == "CHARGE" else "AUTHORIZATION_REQUEST"
        obj = self.initialize_event(tx, action_type=action_type, **fields)
        request = tx.add_event(request_type, "", obj["action"]["amount"], include=False, by=None)
        response = self._post(client, "TRANSACTION_INITIALIZE_SESSION", obj)
        return response, self._session_result(tx, request, response)

    def transaction_process(self, client: Any, tx: Transaction) -> tuple[Any, dict[str, Any]]:
        """transactionProcess: the recorded final event if there is one (the app is not called), else the
        webhook with its answer applied to the request event of transactionInitialize."""
        done = next((e for e in tx.events if e["type"] in FINAL_SESSION_RESULTS and e.get("include", True)), None)
        if done is not None:
            return None, done
        request = next(e for e in tx.events if e["type"] in ("CHARGE_REQUEST", "AUTHORIZATION_REQUEST")
                       and not e.get("include", True))
        response = self._post(client, "TRANSACTION_PROCESS_SESSION", self.process_event(tx))
        event = self._session_result(tx, request, response)
        assert event is not None, response.get_data(as_text=True)
        return response, event

    def request_cancel(self, client: Any, tx: Transaction) -> tuple[Any, dict[str, Any]]:
        """The dashboard's Cancel button (transactionRequestAction CANCEL), which exists only when offered."""
        assert "CANCEL" in tx.available_actions, f"the dashboard offers no Cancel: {tx.available_actions}"
        request = tx.add_event("CANCEL_REQUEST", "", Decimal(0), include=False, by="staff")
        response = self._post(client, "TRANSACTION_CANCELATION_REQUESTED", self.cancel_event(tx, tx.psp_reference))
        answer = json.loads(response.data, parse_float=Decimal)
        if answer.get("pspReference") is not None:
            request["pspReference"], request["include"] = answer["pspReference"], True
        event = tx.add_event(answer["result"], answer.get("pspReference") or "", answer.get("amount") or 0,
                             answer.get("message") or "")
        if answer.get("actions") is not None:
            tx.available_actions = sorted(set(answer["actions"]))
        return response, event

    def _post(self, client: Any, event: str, obj: dict[str, Any]) -> Any:
        path, body, headers = self.webhook(event, obj)
        return client.post(path, data=body, headers=headers)

    def _session_result(self, tx: Transaction, request: dict[str, Any], response: Any) -> dict[str, Any] | None:
        """create_transaction_event_for_transaction_session."""
        try:
            answer = json.loads(response.data, parse_float=Decimal)
        except ValueError:
            return None
        result = answer.get("result") if isinstance(answer, dict) else None
        if response.status_code != 200 or result not in SESSION_RESULTS:
            return tx.add_event("CHARGE_FAILURE", request["pspReference"], request["amount"],
                                f"Missing or invalid value for `result`: {result}")
        psp = answer.get("pspReference") or ""
        amount = Decimal(answer.get("amount") if answer.get("amount") is not None else request["amount"])
        if result in ("AUTHORIZATION_REQUEST", "CHARGE_REQUEST"):
            request.update(type=result, amount=amount, pspReference=psp, include=True,
                           message=answer.get("message") or "", by="app")
            event = request
        else:
            event = tx.existing(result, psp)
            if event is not None and event["amount"] != amount:
                return tx.add_event("CHARGE_FAILURE", psp, request["amount"],
                                    "The transaction with provided `pspReference` and `type` already exists "
                                    "with different amount.")
            event = event or tx.add_event(result, psp, amount, answer.get("message") or "")
            request["pspReference"] = psp
        if result in ACTIONS_APPLIED_WITH:
            tx.psp_reference = psp
            if answer.get("actions") is not None:
                tx.available_actions = sorted(set(answer["actions"]))
        elif psp and tx.psp_reference != psp:
            tx.psp_reference = psp
        return event

    # -- the GraphQL API ---------------------------------------------------------------------------------

    def fail_next(self, *modes: str) -> None:
        """The next GraphQL calls fail, one per mode: 'http_500', 'graphql_error', 'mutation_error', or
        'lost_answer' (the report is processed, the answer is a 502)."""
        with self._lock:
            self._failures.extend(modes)

    def _graphql(self, request: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, Any]]:
        operation = _operation(request["query"], request.get("operationName"))
        variables = request.get("variables") or {}
        (root,) = operation.selection_set.selections
        assert isinstance(root, FieldNode) and root.selection_set is not None
        authorised = self.token is not None and authorization == f"Bearer {self.token}"
        if root.name.value == "app":
            with self._lock:
                self.app_queries.append(authorization)
            if not authorised:
                return 200, {"errors": [PERMISSION_DENIED], "data": {"app": None}}
            return 200, {"data": {"app": project(root.selection_set, {"__typename": "App", "id": self.app_id})}}
        assert root.name.value == "transactionEventReport", f"the fake does not serve {root.name.value}"
        args = {arg.name.value: _argument(arg.value, variables) for arg in root.arguments or ()}
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure == "http_500":
            self._record(args, authorization, failure)
            return 500, {"errors": [{"message": "Internal Server Error"}]}
        if failure == "graphql_error":
            self._record(args, authorization, failure)
            return 200, {"errors": [{"message": "Internal Server Error", "extensions": {"exception": {
                "code": "OperationalError"}}}], "data": {"transactionEventReport": None}}
        if not authorised:
            self._record(args, authorization, "permission_denied")
            return 200, {"errors": [PERMISSION_DENIED], "data": {"transactionEventReport": None}}
        result = self._report(args, failure)
        self._record(args, authorization, result.pop("_answered"))
        if failure == "lost_answer":  # Saleor did the work; the answer never reached the app
            return 502, {"errors": [{"message": "Bad Gateway"}]}
        return 200, {"data": {"transactionEventReport": _floats(project(root.selection_set, result))}}

    def _report(self, args: dict[str, Any], failure: str | None) -> dict[str, Any]:
        """transactionEventReport as Saleor core runs it (see the module docstring)."""
        def refused(field_name: str, message: str, code: str) -> dict[str, Any]:
            return {"__typename": "TransactionEventReport", "alreadyProcessed": None, "transaction": None,
                    "transactionEvent": None, "_answered": code,
                    "errors": [{"__typename": "TransactionEventReportError", "field": field_name,
                                "message": message, "code": code}]}

        if failure == "mutation_error":
            return refused("id", "Could not report the event right now.", "GRAPHQL_ERROR")
        tx = self.transactions.get(args.get("id") or "")
        if tx is None:
            return refused("id", f"Couldn't resolve to a node: {args.get('id')}", "NOT_FOUND")
        kind = args.get("type")
        if kind not in EVENT_TYPES:
            return refused("type", "Unknown event type.", "INVALID")
        psp = args.get("pspReference")
        if not isinstance(psp, str):
            return refused("pspReference", "pspReference is required.", "REQUIRED")
        actions = args.get("availableActions")
        if actions is not None and not set(actions) <= ACTIONS:
            return refused("availableActions", "Unknown action.", "INVALID")
        amount = args.get("amount")
        if amount is None:
            if kind in AMOUNT_REQUIRED:
                return refused("amount", f"The `amount` field is required for {kind} event.", "REQUIRED")
            amount = Decimal(0)  # INFO; the app reports every other amount
        elif isinstance(amount, str):  # PositiveDecimal parses strings as well as numbers
            try:
                amount = Decimal(amount)
            except ArithmeticError:
                return refused("amount", "Amount must be a positive decimal.", "INVALID")
        if not isinstance(amount, Decimal | int) or amount < 0 or (amount == 0 and kind != "INFO"):
            return refused("amount", "Amount must be a positive decimal.", "INVALID")
        seen = tx.existing(kind, psp)
        if seen is not None and seen["amount"] != Decimal(amount):
            return refused("pspReference", "The transaction with provided `pspReference` and `type` already exists "
                                           "with different amount.", "INCORRECT_DETAILS")
        if seen is None:
            event = tx.add_event(kind, psp, Decimal(amount), args.get("message") or "")
            if kind in ACTIONS_APPLIED_WITH and not tx.psp_reference:
                tx.psp_reference = psp
        if actions is not None:  # applied also when the event was already processed
            tx.available_actions = sorted(set(actions))
        amounts = tx.amounts()
        return {"__typename": "TransactionEventReport", "alreadyProcessed": seen is not None,
                "transaction": {"__typename": "TransactionItem", "id": tx.id, "pspReference": tx.psp_reference,
                                "chargedAmount": self.money(tx, amounts["charged"]),
                                "chargePendingAmount": self.money(tx, amounts["chargePending"]),
                                "availableActions": tx.available_actions},
                "transactionEvent": self.event_object(tx, seen or event),
                "errors": [], "_answered": "already_processed" if seen else "ok"}

    @staticmethod
    def money(tx: Transaction, amount: Decimal) -> dict[str, Any]:
        return {"__typename": "Money", "amount": amount, "currency": tx.currency}

    @classmethod
    def event_object(cls, tx: Transaction, event: dict[str, Any]) -> dict[str, Any]:
        """A TransactionEvent as the GraphQL API shows it."""
        return {"__typename": "TransactionEvent", "id": event["id"], "type": event["type"],
                "pspReference": event["pspReference"], "message": event["message"],
                "amount": cls.money(tx, event["amount"])}

    def _record(self, args: dict[str, Any], authorization: str | None, answered: str) -> None:
        with self._lock:
            self.reports.append(Report(dict(args), authorization, answered))

    def reported(self, answered: str | None = "ok") -> list[dict[str, Any]]:
        """The variables of the reports answered so (all reports with answered=None)."""
        with self._lock:
            return [r.variables for r in self.reports if answered is None or r.answered == answered]

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> FakeSaleor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
