"""The Shopify payments app's HTTP entry points (/shopify/...); its `voltbridge shopify` commands are in bridge.cli.

Thin, as the bridge is: check who is calling (Shopify's client certificate at the TLS terminator, Shopify's
HMACs), read the request, hand it to storefront_adapters.shopify, render what comes back. Errors use the
shape of Shopify's own REST errors: {"errors": "message"} or {"errors": {"field": ["message"]}}.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import escape
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from bridge.checkout_wire import is_web_url
from bridge.errors import STATUS_BY_CODE, Problem, register_format
from bridge.extensions import services
from bridge.jsonio import json_response, read_json_object
from gateway_core.adapters.jsonwire import loads
from gateway_core.domain.errors import GatewayError, ValidationFailed
from storefront_adapters.shopify import install
from storefront_adapters.shopify.adapter import parse_refund_session
from storefront_adapters.shopify.errors import (
    AppNotConfigured,
    ClientCertificateRequired,
    InvalidSignature,
    OAuthStateMismatch,
    ScopesMissing,
    ShopifyError,
)
from storefront_adapters.shopify.sessions import return_target, start_payment, start_refund
from storefront_adapters.shopify.wire import (
    api_origin,
    authorize_url,
    query_signed,
    settings_url,
    shop_domain,
    shop_origin,
    webhook_signed,
)

log = logging.getLogger("bridge.shopify")
BASE_PATH = "/shopify"
STATE_COOKIE = "vb_shopify_oauth"
STATE_MAX_AGE = 600  # seconds between leaving for Shopify's consent screen and coming back
bp = Blueprint("shopify", __name__, url_prefix=BASE_PATH)


def render_error(problem: Problem, request_id: str) -> Response:
    errors: Any = {name: [text] for name, text in problem.errors.items()} if problem.errors else problem.message
    return json_response({"errors": errors, "error_code": problem.code, "request_id": request_id}, problem.status)


@bp.record_once
def _formats(state: Any) -> None:
    register_format(state.app, BASE_PATH, render_error)


@bp.errorhandler(GatewayError)
def _gateway_error(exc: GatewayError) -> Response:
    status = exc.status if isinstance(exc, ShopifyError) else STATUS_BY_CODE.get(exc.code, 400)
    return render_error(Problem(status, exc.code, exc.message, exc.errors), g.get("request_id", "-"))


def _shop(value: object, where: str) -> str:
    shop = shop_domain(value)
    if shop is None:
        raise ValidationFailed("Invalid shop", errors={where: "must be the shop's *.myshopify.com domain"})
    return shop


# -- payment and refund sessions (Shopify -> us, over mutual TLS) ---------------------------------------------


def require_client_certificate() -> None:
    """Shopify's requests come with its client certificate, verified by the TLS terminator in front of us.

    The terminator passes the verified subject in a header; it is believed only behind a proxy we trust
    (TRUST_PROXY=1, where the proxy overwrites that header), never from a client talking to us directly.
    """
    settings = services().settings
    if not settings.shopify_require_client_cert:
        return
    subject = request.headers.get(settings.shopify_client_cert_header, "").strip() if settings.trust_proxy else ""
    if not subject:
        raise ClientCertificateRequired("Shopify's client certificate is required (mutual TLS at the proxy)")
    expected = settings.shopify_client_cert_subject
    if expected and not hmac.compare_digest(subject.encode(), expected.encode()):
        raise ClientCertificateRequired("This client certificate is not Shopify's")


def _session_trace(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What identifies a session request in the log: Shopify's request id (what Shopify support asks for),
    the session's id and the shop."""
    session_id = payload.get("id")
    return {"shopify_request_id": request.headers.get("Shopify-Request-Id") or None, "session_kind": kind,
            "session_id": session_id if isinstance(session_id, str) else None,
            "shop": shop_domain(request.headers.get("Shopify-Shop-Domain"))}


@bp.post("/payment_sessions")
def payment_sessions() -> Response:
    """Shopify's start-payment request: the invoice for this session and the pay page to send the buyer to."""
    require_client_certificate()
    payload = read_json_object()
    trace = _session_trace("payment", payload)
    try:
        shop = _shop(request.headers.get("Shopify-Shop-Domain"), "Shopify-Shop-Domain")
        svc = services()
        started = start_payment(svc, shop, payload)
    except GatewayError as exc:
        log.warning("shopify payment session refused", extra={**trace, "error_code": exc.code})
        raise
    log.info("shopify payment session", extra={**trace, "invoice_number": started.view.number,
                                               "new_invoice": started.created})
    redirect_url = f"{svc.settings.public_url}/pay/{started.view.number}"
    return json_response({"redirect_url": redirect_url}, 201 if started.created else 200)


@bp.post("/refund_sessions")
def refund_sessions() -> Response:
    """Shopify's refund request: accepted (201), then rejected through the outbox with the reason."""
    require_client_certificate()
    payload = read_json_object()
    trace = {**_session_trace("refund", payload), "payment_id": payload.get("payment_id")}
    try:
        shop = _shop(request.headers.get("Shopify-Shop-Domain"), "Shopify-Shop-Domain")
        start_refund(services(), shop, parse_refund_session(payload))
    except GatewayError as exc:
        log.warning("shopify refund session refused", extra={**trace, "error_code": exc.code})
        raise
    log.info("shopify refund session", extra=trace)
    return Response(status=201)


@bp.get("/return/<number>")
def back_to_shop(number: str) -> Response:
    """The pay page's success_url: on to Shopify's checkout once Shopify has told us where (nextAction)."""
    url, view = return_target(services(), number)
    if view is None:
        raise NotFound("Unknown invoice")
    if url and is_web_url(url):
        return redirect(url, 303)  # type: ignore[return-value]
    back = view.cancel_url if is_web_url(view.cancel_url) else None
    link = f"<p><a href='{escape(back)}'>Back to the shop</a></p>" if back else ""
    html = ("<!doctype html><html lang=en><meta charset=utf-8><meta http-equiv=refresh content=3>"
            "<title>Returning to the shop</title><body style='font-family:sans-serif;max-width:36em;margin:2em'>"
            "<h1>Payment received</h1><p>We are telling the shop; this page moves on by itself in a moment.</p>"
            f"{link}</body></html>")
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})


# -- installing: OAuth authorization code grant ---------------------------------------------------------------


def _state_codec() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services().settings.secret_key, salt="voltbridge.shopify.oauth-state")


def _app_credentials() -> tuple[str, str]:
    settings = services().settings
    if not settings.shopify_api_key or not settings.shopify_api_secret:
        raise AppNotConfigured("SHOPIFY_API_KEY and SHOPIFY_API_SECRET are not set on this gateway")
    return settings.shopify_api_key, settings.shopify_api_secret


@bp.get("/auth")
def auth() -> Response:
    """The app URL: send the merchant to their shop's consent screen, with a state nonce bound to this browser."""
    api_key, api_secret = _app_credentials()
    shop = _shop(request.args.get("shop"), "shop")
    svc = services()
    if "hmac" in request.args and not query_signed(request.args.to_dict(flat=False), api_secret, svc.clock.now()):
        raise InvalidSignature("The install link's HMAC does not match (or it is more than a day old)")
    with svc.uow() as uow:
        install.allowed_installation(uow.session, shop)
    nonce = secrets.token_urlsafe(24)
    target = authorize_url(shop, api_key, svc.settings.shopify_scopes,
                           f"{svc.settings.public_url}{BASE_PATH}/auth/callback", nonce)
    response = redirect(target, 302)
    response.set_cookie(STATE_COOKIE, _state_codec().dumps({"nonce": nonce, "shop": shop}), max_age=STATE_MAX_AGE,
                        path=f"{BASE_PATH}/auth", httponly=True, samesite="Lax",
                        secure=svc.settings.public_url.startswith("https://"))
    return response  # type: ignore[return-value]


def _check_state(shop: str) -> None:
    """The callback's state must be the nonce this browser was given, for this shop, in the last minutes."""
    try:
        saved = _state_codec().loads(request.cookies.get(STATE_COOKIE, ""), max_age=STATE_MAX_AGE)
    except BadSignature:
        raise OAuthStateMismatch("The sign-in with Shopify expired or was started elsewhere; start again") from None
    state = request.args.get("state", "")
    if (not isinstance(saved, dict) or saved.get("shop") != shop
            or not hmac.compare_digest(str(saved.get("nonce", "")).encode(), state.encode())):
        raise OAuthStateMismatch("The OAuth state does not match this browser's sign-in; start again")


@bp.get("/auth/callback")
def auth_callback() -> Response:
    """Shopify's redirect after consent: check HMAC, state and shop; exchange the code; keep the token."""
    api_key, api_secret = _app_credentials()
    if not query_signed(request.args.to_dict(flat=False), api_secret, services().clock.now()):
        raise InvalidSignature("The callback's HMAC does not match (or it is more than a day old)")
    shop = _shop(request.args.get("shop"), "shop")
    _check_state(shop)
    code = request.args.get("code", "")
    if not code:
        raise ValidationFailed("Missing code", errors={"code": "Shopify's authorization code is required"})
    svc = services()
    with svc.uow() as uow:
        install.allowed_installation(uow.session, shop)
    assert svc.webhooks is not None
    token, scope = install.exchange_code(svc.webhooks, api_origin(shop_origin(shop), svc.settings.shopify_api_origin),
                                         api_key, api_secret, code, svc.settings.webhook_timeout_seconds)
    missing = install.missing_scopes(scope, svc.settings.shopify_scopes)
    if missing:
        raise ScopesMissing(f"The app needs the {', '.join(missing)} access scopes", errors={"scope": scope})
    with svc.uow() as uow:
        install.record_token(uow, svc.vault, svc.clock, shop, token, scope)
    log.info("shopify app installed", extra={"shop": shop})
    response = redirect(settings_url(shop, api_key), 302)
    response.delete_cookie(STATE_COOKIE, path=f"{BASE_PATH}/auth")
    return response  # type: ignore[return-value]


# -- webhooks (app/uninstalled and the mandatory privacy topics) -----------------------------------------------


def _uninstalled(session: Session, shop: str, payload: dict[str, Any]) -> None:
    install.uninstall(session, shop, services().clock.now())


def _data_request(session: Session, shop: str, payload: dict[str, Any]) -> None:
    # Nothing to hand over: buyers' details from Shopify are never stored (sessions keep amounts and ids only).
    log.info("shopify customers/data_request: no customer data held", extra={"shop": shop})


def _customer_redact(session: Session, shop: str, payload: dict[str, Any]) -> None:
    customer = payload.get("customer") or {}
    install.redact_customer(session, shop, customer.get("email") if isinstance(customer, dict) else None)


def _shop_redact(session: Session, shop: str, payload: dict[str, Any]) -> None:
    install.redact_shop(session, shop)


TOPICS: dict[str, Callable[[Session, str, dict[str, Any]], None]] = {
    "app/uninstalled": _uninstalled,
    "customers/data_request": _data_request,
    "customers/redact": _customer_redact,
    "shop/redact": _shop_redact,
}


@bp.post("/webhooks")
def webhooks() -> Response:
    """Verify X-Shopify-Hmac-Sha256 over the raw body, then dispatch on X-Shopify-Topic (401 if unsigned)."""
    _, api_secret = _app_credentials()
    raw = request.get_data(cache=True)
    if not webhook_signed(raw, request.headers.get("X-Shopify-Hmac-Sha256"), api_secret):
        raise InvalidSignature("X-Shopify-Hmac-Sha256 does not match the body")
    try:
        payload = loads(raw) if raw.strip() else {}
    except ValueError:
        raise ValidationFailed("Invalid JSON", errors={"body": "must be a JSON object"}) from None
    if not isinstance(payload, dict):
        raise ValidationFailed("Invalid JSON", errors={"body": "must be a JSON object"})
    topic = request.headers.get("X-Shopify-Topic", "")
    shop = _shop(request.headers.get("X-Shopify-Shop-Domain") or payload.get("shop_domain"), "X-Shopify-Shop-Domain")
    handler = TOPICS.get(topic)
    if handler is not None:
        svc = services()
        with svc.uow() as uow:
            handler(uow.session, shop, payload)
    log.info("shopify webhook", extra={"topic": topic, "shop": shop, "handled": handler is not None,
                                       "webhook_id": request.headers.get("X-Shopify-Webhook-Id")})
    return json_response({}, 200)
