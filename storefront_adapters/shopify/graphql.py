"""The Payments Apps GraphQL API: the mutations we send and how we read Shopify's answers.

Shopify answers 200 to a GraphQL request it could not carry out: an `errors` list (bad query, throttled,
bad token) or a mutation's `userErrors` mean the call failed, and the outbox must try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway_core.adapters.jsonwire import dumps, iso, loads
from gateway_core.ports import HttpResult, WebhookTransport

_SESSION = ("paymentSession { id nextAction { action context "
            "{ ... on PaymentSessionActionsRedirect { redirectUrl } } } }")

PAYMENT_SESSION_PENDING = f"""
mutation PaymentSessionPending($id: ID!, $pendingExpiresAt: DateTime!, $reason: PaymentSessionStatePendingReason!) {{
  paymentSessionPending(id: $id, pendingExpiresAt: $pendingExpiresAt, reason: $reason) {{
    {_SESSION}
    userErrors {{ field message }}
  }}
}}"""

PAYMENT_SESSION_RESOLVE = f"""
mutation PaymentSessionResolve($id: ID!) {{
  paymentSessionResolve(id: $id) {{
    {_SESSION}
    userErrors {{ field message }}
  }}
}}"""

PAYMENT_SESSION_REJECT = f"""
mutation PaymentSessionReject($id: ID!, $reason: PaymentSessionRejectionReasonInput!) {{
  paymentSessionReject(id: $id, reason: $reason) {{
    {_SESSION}
    userErrors {{ field message }}
  }}
}}"""

REFUND_SESSION_REJECT = """
mutation RefundSessionReject($id: ID!, $reason: RefundSessionRejectionReasonInput!) {
  refundSessionReject(id: $id, reason: $reason) {
    refundSession { id }
    userErrors { field message }
  }
}"""

PAYMENTS_APP_CONFIGURE = """
mutation PaymentsAppConfigure($externalHandle: String, $ready: Boolean!) {
  paymentsAppConfigure(externalHandle: $externalHandle, ready: $ready) {
    paymentsAppConfiguration { externalHandle ready }
    userErrors { field message }
  }
}"""


@dataclass(frozen=True)
class Call:
    """One mutation: the field it answers under, the document and its variables."""

    field: str
    query: str
    variables: dict[str, Any]


def pending(gid: str, expires_at: datetime, reason: str = "NETWORK_ACTION_REQUIRED") -> Call:
    return Call("paymentSessionPending", PAYMENT_SESSION_PENDING,
                {"id": gid, "pendingExpiresAt": iso(expires_at), "reason": reason})


def resolve(gid: str) -> Call:
    return Call("paymentSessionResolve", PAYMENT_SESSION_RESOLVE, {"id": gid})


def reject(gid: str, message: str, code: str = "PROCESSING_ERROR") -> Call:
    return Call("paymentSessionReject", PAYMENT_SESSION_REJECT,
                {"id": gid, "reason": {"code": code, "merchantMessage": message}})


def reject_refund(gid: str, message: str) -> Call:
    return Call("refundSessionReject", REFUND_SESSION_REJECT,
                {"id": gid, "reason": {"code": "PROCESSING_ERROR", "merchantMessage": message}})


def configure(external_handle: str) -> Call:
    return Call("paymentsAppConfigure", PAYMENTS_APP_CONFIGURE, {"externalHandle": external_handle, "ready": True})


@dataclass(frozen=True)
class Answer:
    """What a call came to: the transport's result (ok only if Shopify did it) and the mutation's payload."""

    result: HttpResult
    payload: dict[str, Any]

    @property
    def redirect_url(self) -> str | None:
        """Where Shopify wants the buyer sent next (pending, resolve and reject answer with one)."""
        session = self.payload.get("paymentSession") or {}
        context = (session.get("nextAction") or {}).get("context") or {}
        url = context.get("redirectUrl")
        return url if isinstance(url, str) else None


def post(transport: WebhookTransport, url: str, token: str, call: Call, timeout: float) -> Answer:
    """Send the mutation with the shop's access token; a 200 with errors or userErrors is a failure."""
    body = dumps({"query": call.query, "variables": call.variables}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json", "X-Shopify-Access-Token": token}
    result = transport.post(url, body, headers, timeout)
    if not result.ok:
        return Answer(result, {})
    problem, payload = _read(result.body, call.field)
    if problem:
        return Answer(HttpResult(result.status, result.body, result.latency, problem), payload)
    return Answer(result, payload)


def _read(raw: bytes, field: str) -> tuple[str | None, dict[str, Any]]:
    try:
        document = loads(raw)
    except ValueError:
        return "Shopify answered with something that is not JSON", {}
    if not isinstance(document, dict):
        return "Shopify answered with something that is not a GraphQL response", {}
    errors = document.get("errors")
    if errors:
        return f"GraphQL errors: {_messages(errors)}", {}
    payload = (document.get("data") or {}).get(field)
    if not isinstance(payload, dict):
        return f"GraphQL response has no {field}", {}
    user_errors = payload.get("userErrors") or []
    if user_errors:
        return f"{field} userErrors: {_messages(user_errors)}", payload
    return None, payload


def _messages(errors: Any) -> str:
    if isinstance(errors, str):  # e.g. '[API] Invalid API key or access token (unrecognized login or wrong password)'
        return errors[:300]
    if isinstance(errors, list):
        parts = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
        return "; ".join(parts)[:300]
    return str(errors)[:300]
