"""VentaConnect (shared/specs/ventaconnect-api.txt): POS checkout sessions paid with Solana Pay.

`POST /v1/checkout` (and `/v1/dev/checkout/session`, sandbox shops only) with `x-api-key` returns the Solana
Pay `link`, the session's `ref` and its `ws` status socket; `GET /v1/checkout/<ref>` is the polling fallback.
Every keyed request counts against the key's budget (120 a minute unless set per key).
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_sock import Sock

from bridge.contracts.venta_wire import (
    envelope,
    is_final,
    parse_checkout,
    render_error,
    session_body,
)
from bridge.errors import Problem, register_format
from bridge.extensions import services
from bridge.jsonio import dumps, json_response, read_json_object
from bridge.key_ratelimit import RateLimited, key_limiter
from gateway_core.adapters.db import UnitOfWork
from gateway_core.domain.errors import InvalidApiKey, InvoiceNotFound, ValidationFailed
from gateway_core.invoices.create import create_invoice
from gateway_core.invoices.manage import accepted_assets, get_invoice, public_invoice
from gateway_core.invoices.venta_sessions import CONTRACT, session_probe
from gateway_core.keys.api_keys import Caller
from gateway_core.keys.key_limits import authenticate_caller
from gateway_core.views import InvoiceView

bp = Blueprint("venta", __name__, url_prefix="/v1")
sock = Sock()
REF = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CLOSE_WAIT_SECONDS = 5.0


class SandboxOnly(Exception):
    """The dev endpoints simulate payments, so they serve sandbox shops only (never a real network's)."""


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    settings = services(app).settings
    app.extensions["voltbridge.venta_limiter"] = key_limiter(settings.redis_url)
    # The socket polls the database this often, and ends after this long (the POS reconnects or polls).
    app.config.setdefault("VENTA_POLL_SECONDS", 1.0)
    app.config.setdefault("VENTA_SOCKET_SECONDS", 600.0)
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"ping_interval": 25})  # keeps proxies from idling it out
    register_format(app, "/v1/checkout", render_error)
    register_format(app, "/v1/dev", render_error)


def _authorised(uow: UnitOfWork, dev: bool) -> Caller:
    """The caller's shop, once its key is valid and within its budget."""
    svc = services()
    raw = request.headers.get("x-api-key")
    if not raw:
        raise InvalidApiKey("Missing x-api-key header")
    caller = authenticate_caller(uow, raw.strip(), svc.clock, CONTRACT)
    limiter = current_app.extensions["voltbridge.venta_limiter"]
    g.venta_verdict = verdict = limiter.hit(caller.bucket, caller.per_minute, svc.clock.now().timestamp())
    if not verdict.allowed:
        raise RateLimited(verdict)
    if dev and caller.store.network != "sandbox":
        raise SandboxOnly(f"The /v1/dev endpoints simulate payments and serve sandbox shops only; this key's shop "
                          f"is on {caller.store.network}: use POST /v1/checkout")
    return caller


@bp.after_request
def _budget_headers(response: Response) -> Response:
    verdict = g.get("venta_verdict")
    if verdict is not None:
        response.headers["X-RateLimit-Limit"] = str(verdict.limit)
        response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
        response.headers["X-RateLimit-Reset"] = str(verdict.reset_after)
    return response


@bp.errorhandler(RateLimited)
def _rate_limited(exc: RateLimited) -> Response:
    problem = Problem(429, "RATE_LIMITED", f"Rate limit of {exc.verdict.limit} requests per minute reached for "
                                           f"this API key; retry after {exc.verdict.reset_after} s")
    response = render_error(problem, g.get("request_id", "-"))
    response.headers["Retry-After"] = str(exc.verdict.reset_after)
    return response


@bp.errorhandler(SandboxOnly)
def _sandbox_only(exc: SandboxOnly) -> Response:
    return render_error(Problem(403, "SANDBOX_ONLY", str(exc)), g.get("request_id", "-"))


def _create(dev: bool) -> Response:
    svc = services()
    with svc.uow() as uow:
        caller = _authorised(uow, dev)
        wanted = parse_checkout(read_json_object())
        if wanted.token not in accepted_assets(caller.store):
            raise ValidationFailed("Token not accepted",
                                   errors={"token": f"this shop has no {wanted.token} wallet on Solana"})
        made = create_invoice(uow, caller.store, wanted.invoice, svc.invoicing)
        return json_response(session_body(made.view, svc.settings, svc.clock.now()), 201 if made.created else 200)


@bp.post("/checkout")
def create_session() -> Response:
    """Open a checkout session on the shop's own network."""
    return _create(dev=False)


@bp.post("/dev/checkout/session")
def create_dev_session() -> Response:
    """Open a checkout session on the sandbox (pay it with `voltbridge simulate pay <ref>`)."""
    return _create(dev=True)


def _session(ref: str, dev: bool) -> Response:
    svc = services()
    with svc.uow() as uow:
        caller = _authorised(uow, dev)
        view = _own_session(uow, caller, ref)
    body = session_body(svc.current_view(view), svc.settings, svc.clock.now())
    return json_response(body, headers={"Cache-Control": "no-store"})


def _own_session(uow: UnitOfWork, caller: Caller, ref: str) -> InvoiceView:
    if not REF.match(ref):
        raise InvoiceNotFound("Checkout session not found")
    view = get_invoice(uow, caller.store, ref, services().clock)
    if view.contract != CONTRACT:
        raise InvoiceNotFound("Checkout session not found")
    return view


@bp.get("/checkout/<ref>")
def session_status(ref: str) -> Response:
    """The polling fallback: the session with the message its socket would send now."""
    return _session(ref, dev=False)


@bp.get("/dev/checkout/session/<ref>")
def dev_session_status(ref: str) -> Response:
    return _session(ref, dev=True)


@bp.before_request
def _known_socket() -> None:
    """An unknown ref is a 404 before the WebSocket handshake, so clients are told rather than left hanging."""
    if request.endpoint != "venta.session_socket":
        return
    ref = (request.view_args or {}).get("ref", "")
    svc = services()
    with svc.uow() as uow:
        if not REF.match(ref) or session_probe(uow, ref) is None:
            raise InvoiceNotFound("Checkout session not found")


@sock.route("/checkout/<ref>/ws", bp=bp)
def session_socket(ws: Any, ref: str) -> None:
    """Status messages for one session: the current one on connect, one per change, closed after a final one."""
    slots = current_app.extensions["voltbridge.checkout"].streams  # shared with the pay page's streams
    if not slots.acquire():
        _close(ws, 1013, "Live updates are busy; poll GET /v1/checkout/<ref>")
        return
    try:
        _follow(ws, ref)
    finally:
        slots.release()


def _follow(ws: Any, ref: str) -> None:
    svc = services()
    config = current_app.config
    started = time.monotonic()
    probe: object = None
    sent: dict[str, Any] | None = None
    while True:
        with svc.uow() as uow:
            moved = session_probe(uow, ref)
            view = public_invoice(uow, ref, svc.clock) if moved != probe else None
        probe = moved
        message = envelope(view) if view is not None else sent
        if message is not None and message != sent:
            ws.send(dumps(message))
            sent = message
            if is_final(message):
                _close(ws, 1000, message["code"])
                return
        if time.monotonic() - started >= config["VENTA_SOCKET_SECONDS"]:
            _close(ws, 1000, "Reconnect or poll GET /v1/checkout/<ref>")
            return
        _wait(ws, config["VENTA_POLL_SECONDS"])


def _close(ws: Any, code: int, reason: str) -> None:
    """Close, then let the client's close reply arrive before the server ends the connection: Werkzeug reads
    what is left on the socket until EOF after the view returns, which would otherwise stall both sides."""
    ws.close(reason=code, message=reason)
    ws.thread.join(timeout=CLOSE_WAIT_SECONDS)


def _wait(ws: Any, seconds: float) -> None:
    """Sleep, but notice the POS hanging up (receive raises ConnectionClosed); what it sends is ignored."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ws.receive(timeout=left)
