"""Calls to a Saleor instance, all through the SSRF-guarded transport: the app id, the JWKS, event reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gateway_core.adapters.jsonwire import dumps, loads
from gateway_core.domain.errors import ValidationFailed
from gateway_core.ports import HttpResult, WebhookTransport
from storefront_adapters.saleor.consts import APP_ID_QUERY, TRANSACTION_EVENT_REPORT
from storefront_adapters.saleor.jws import BadJwks, check_jwks

TIMEOUT_SECONDS = 10.0


class SaleorUnavailable(Exception):
    """The Saleor instance did not answer as documented (the message says how)."""


def normalise_api_url(url: str | None) -> str:
    """The one spelling of a Saleor API URL we store and compare: lower-case scheme and host, a trailing slash."""
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValidationFailed("Invalid Saleor API URL",
                               errors={"api_url": "an http(s) URL such as https://shop.example.com/graphql/"})
    if parts.query or parts.fragment:
        raise ValidationFailed("Invalid Saleor API URL", errors={"api_url": "no query string or fragment"})
    try:
        port = parts.port
    except ValueError:
        raise ValidationFailed("Invalid Saleor API URL", errors={"api_url": "invalid port"}) from None
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port and port != default_port else "")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((scheme, netloc, path, "", ""))


def jwks_url(api_url: str) -> str:
    """Saleor publishes its webhook signing keys at the root of the API's origin."""
    parts = urlsplit(api_url)
    return urlunsplit((parts.scheme, parts.netloc, "/.well-known/jwks.json", "", ""))


def _json(result: HttpResult, what: str) -> Any:
    if result.error is not None or result.status is None:
        raise SaleorUnavailable(f"{what}: {result.error or 'no answer'}")
    if result.status != 200:
        raise SaleorUnavailable(f"{what}: HTTP {result.status}")
    try:
        return loads(result.body)
    except ValueError:
        raise SaleorUnavailable(f"{what}: the answer is not JSON") from None


def graphql_headers(token: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {token}"}


def fetch_app_id(transport: WebhookTransport, api_url: str, token: str) -> str:
    """The id of the app the token belongs to; a token Saleor does not know gets no app id."""
    body = dumps({"query": APP_ID_QUERY, "operationName": "VoltbridgeAppId"}).encode()
    answer = _json(transport.post(api_url, body, graphql_headers(token), TIMEOUT_SECONDS), "app id query")
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if errors:
        raise SaleorUnavailable(f"app id query: {_first_message(errors)}")
    app = ((answer or {}).get("data") or {}).get("app") if isinstance(answer, dict) else None
    if not isinstance(app, dict) or not isinstance(app.get("id"), str) or not app["id"]:
        raise SaleorUnavailable("app id query: Saleor returned no app for this token")
    return str(app["id"])


def fetch_jwks(transport: WebhookTransport, api_url: str) -> dict[str, Any]:
    """The instance's current signing keys."""
    document = _json(transport.get(jwks_url(api_url), TIMEOUT_SECONDS), "JWKS")
    try:
        return check_jwks(document)
    except BadJwks as exc:
        raise SaleorUnavailable(f"JWKS: {exc}") from None


@dataclass(frozen=True)
class ReportOutcome:
    """What Saleor said to one transactionEventReport: accepted (possibly already processed) or why not."""

    accepted: bool
    already_processed: bool = False
    problem: str | None = None
    kept: Mapping[str, Any] | None = None  # the event Saleor holds for this report (its earlier one if processed)
    charged: Decimal = Decimal(0)  # the transaction's charged and pending amounts after the report
    charge_pending: Decimal = Decimal(0)


def report_event(transport: WebhookTransport, api_url: str, token: str, variables: Mapping[str, Any],
                 timeout: float) -> tuple[HttpResult, ReportOutcome]:
    """POST the transactionEventReport mutation; accepted only with no GraphQL errors and no mutation errors."""
    body = dumps({"query": TRANSACTION_EVENT_REPORT, "operationName": "VoltbridgeTransactionEventReport",
                  "variables": dict(variables)}).encode()
    result = transport.post(api_url, body, graphql_headers(token), timeout)
    return result, read_report(result)


def read_report(result: HttpResult) -> ReportOutcome:
    try:
        answer = _json(result, "transactionEventReport")
    except SaleorUnavailable as exc:
        return ReportOutcome(False, problem=str(exc))
    if not isinstance(answer, dict):
        return ReportOutcome(False, problem="transactionEventReport: the answer is not a JSON object")
    if answer.get("errors"):  # a GraphQL 200 with errors is a failure: the outbox retries it
        return ReportOutcome(False, problem=f"GraphQL error: {_first_message(answer['errors'])}")
    report = (answer.get("data") or {}).get("transactionEventReport")
    if not isinstance(report, dict):
        return ReportOutcome(False, problem="transactionEventReport: no result in the answer")
    if report.get("errors"):
        return ReportOutcome(False, problem=f"transactionEventReport refused: {_first_message(report['errors'])}")
    kept = report.get("transactionEvent")
    transaction = report.get("transaction") if isinstance(report.get("transaction"), dict) else {}
    return ReportOutcome(True, already_processed=bool(report.get("alreadyProcessed")),
                         kept=kept if isinstance(kept, dict) else None,
                         charged=_amount(transaction.get("chargedAmount")),
                         charge_pending=_amount(transaction.get("chargePendingAmount")))


def _amount(money: Any) -> Decimal:
    """A Money object's amount (Saleor sends a JSON float; its decimal text is the amount)."""
    value = money.get("amount") if isinstance(money, dict) else None
    return Decimal(str(value)) if isinstance(value, int | float | Decimal) and not isinstance(value, bool) \
        else Decimal(0)


def _first_message(errors: Any) -> str:
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        exception = (first.get("extensions") or {}).get("exception")
        code = first.get("code") or (exception.get("code") if isinstance(exception, dict) else None)
        field = first.get("field")
        text = str(first.get("message") or "error")
        return " ".join(part for part in (f"[{code}]" if code else "", f"{field}:" if field else "", text) if part)
    return "error"
