"""WooCommerce REST API v3 client (consumer key and secret), for shops that cannot install the plugin.

Authentication as WooCommerce documents it: HTTP Basic over HTTPS; over plain HTTP, OAuth 1.0a "one-legged"
with HMAC-SHA1 and the oauth_* parameters in the query string (WooCommerce reads no Authorization header
there), signed with the consumer secret plus "&" (there is no token secret).
Requests go through whatever `http` it is given (the outbox passes the SSRF-guarded transport).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from gateway_core.ports import HttpResult

API_PREFIX = "/wp-json/wc/v3"


@dataclass(frozen=True)
class WooCredentials:
    consumer_key: str
    consumer_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"WooCredentials(consumer_key={self.consumer_key[:7]}...)"


class Requester(Protocol):
    """One HTTP exchange (GuardedHttp has this shape): never raises, answers an HttpResult."""

    def request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                timeout: float) -> HttpResult: ...


def _pct(value: str) -> str:
    """RFC 3986 percent-encoding, as OAuth 1.0a (and PHP's rawurlencode) define it."""
    return quote(value, safe="-._~")


def oauth_signature(method: str, url: str, params: Mapping[str, str], consumer_secret: str) -> str:
    """Base64 HMAC-SHA1 of the OAuth 1.0a signature base string (RFC 5849 §3.4.1), key = secret + '&'."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    base_uri = urlunsplit((parts.scheme.lower(), host, parts.path, "", ""))
    pairs = sorted((_pct(k), _pct(v)) for k, v in [*parse_qsl(parts.query, keep_blank_values=True),
                                                     *params.items()])
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join((method.upper(), _pct(base_uri), _pct(normalized)))
    key = _pct(consumer_secret) + "&"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()


def authenticate(method: str, url: str, credentials: WooCredentials, *, now: Callable[[], float] = time.time,
                 nonce: Callable[[], str] = lambda: secrets.token_hex(16)) -> tuple[str, dict[str, str]]:
    """The URL and headers that authenticate this request: Basic over https, OAuth 1.0a query over http."""
    if urlsplit(url).scheme == "https":
        token = base64.b64encode(f"{credentials.consumer_key}:{credentials.consumer_secret}".encode()).decode()
        return url, {"Authorization": f"Basic {token}"}
    params = {"oauth_consumer_key": credentials.consumer_key, "oauth_nonce": nonce(),
              "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": str(int(now()))}
    params["oauth_signature"] = oauth_signature(method, url, params, credentials.consumer_secret)
    separator = "&" if urlsplit(url).query else "?"
    return url + separator + urlencode(params, quote_via=quote, safe="-._~"), {}


def failure_detail(result: HttpResult) -> str | None:
    """Why WooCommerce refused: its own error (`{"code", "message"}`), or the transport's error."""
    if result.error:
        return result.error
    if result.status is not None and 200 <= result.status < 300:
        return None
    try:
        body = json.loads(result.body.decode("utf-8", "replace"))
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("code"):
        return f"HTTP {result.status}: {body.get('code')}: {body.get('message', '')}"[:300]
    return f"HTTP {result.status}"


class WooRestClient:
    """The calls the gateway makes on a WooCommerce site: mark an order paid, add an order note."""

    def __init__(self, site_url: str, credentials: WooCredentials, http: Requester, timeout: float = 30.0) -> None:
        self.site_url = site_url.rstrip("/")
        self.credentials = credentials
        self.http = http
        self.timeout = timeout

    def call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> HttpResult:
        """One authenticated call; a non-2xx answer comes back with WooCommerce's error in `error`."""
        url, headers = authenticate(method, self.site_url + API_PREFIX + path, self.credentials)
        headers = {"Accept": "application/json", "User-Agent": "voltbridge-woocommerce-rest/1.0", **headers}
        body = None
        if payload is not None:
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        result = self.http.request(method, url, body, headers, self.timeout)
        detail = failure_detail(result)
        if detail is not None and result.error is None:
            return HttpResult(result.status, result.body, result.latency, detail)
        return result

    def mark_paid(self, order_id: str, transaction_id: str | None) -> HttpResult:
        """PUT /orders/<id> with set_paid: WooCommerce runs payment_complete (processing or completed)."""
        payload: dict[str, Any] = {"set_paid": True}
        if transaction_id:
            payload["transaction_id"] = transaction_id
        return self.call("PUT", f"/orders/{quote(order_id, safe='')}", payload)

    def set_status(self, order_id: str, status: str, transaction_id: str | None = None) -> HttpResult:
        payload: dict[str, Any] = {"status": status}
        if transaction_id:
            payload["transaction_id"] = transaction_id
        return self.call("PUT", f"/orders/{quote(order_id, safe='')}", payload)

    def add_note(self, order_id: str, note: str, customer_note: bool = False) -> HttpResult:
        """POST /orders/<id>/notes (a customer note is also emailed to the buyer by WooCommerce)."""
        return self.call("POST", f"/orders/{quote(order_id, safe='')}/notes",
                         {"note": note, "customer_note": customer_note})

    def get_order(self, order_id: str) -> HttpResult:
        return self.call("GET", f"/orders/{quote(order_id, safe='')}")
