"""The Saleor payment app's HTTP entry points (/saleor/api); its `voltbridge saleor` commands are in bridge.cli.

Thin, as the bridge is: read the request, hand it to storefront_adapters.saleor, render what comes back.
Errors use Saleor's own shape, {"error": {"code", "message"}}: Saleor shows error.message when an install fails.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from markupsafe import escape

from bridge.errors import Problem, register_format
from bridge.extensions import services
from bridge.jsonio import BodyError, json_response, read_json_object
from gateway_core.adapters.jsonwire import loads
from gateway_core.bootstrap import Services
from gateway_core.domain.errors import GatewayError, ValidationFailed
from gateway_core.ports import WebhookTransport
from storefront_adapters.saleor import installations
from storefront_adapters.saleor.adapter import failure_answer
from storefront_adapters.saleor.consts import EVENT_FOR_SLUG
from storefront_adapters.saleor.manifest import BASE_PATH, manifest
from storefront_adapters.saleor.transactions import HANDLERS

bp = Blueprint("saleor", __name__, url_prefix=BASE_PATH)

STATUS = {"INSTANCE_NOT_ALLOWED": 403, "INSTANCE_BOUND_ELSEWHERE": 409, "REGISTRATION_FAILED": 400,
          "INVALID_SIGNATURE": 401, "VALIDATION_ERROR": 400}


def render_error(problem: Problem, request_id: str) -> Response:
    error: dict[str, Any] = {"code": problem.code, "message": problem.message}
    if problem.errors:
        error["fields"] = problem.errors
    return json_response({"error": error, "request_id": request_id}, problem.status)


@bp.record_once
def _formats(state: Any) -> None:
    register_format(state.app, BASE_PATH, render_error)


@bp.errorhandler(GatewayError)
def _gateway_error(exc: GatewayError) -> Response:
    from flask import g

    status = STATUS.get(exc.code, 400)
    return render_error(Problem(status, exc.code, exc.message, exc.errors), g.get("request_id", "-"))


def transport(svc: Services) -> WebhookTransport:
    assert svc.webhooks is not None  # build_services always sets the guarded transport
    return svc.webhooks


@bp.get("/manifest")
def get_manifest() -> Response:
    return json_response(manifest(services().settings.public_url))


@bp.get("/app")
def app_page() -> Response:
    """The page Saleor's dashboard frames as appUrl: the app has nothing to configure inside Saleor."""
    url = escape(services().settings.public_url)
    html = ("<!doctype html><html lang=en><meta charset=utf-8><title>voltbridge</title>"
            "<body style='font-family:sans-serif;max-width:40em;margin:2em'>"
            "<h1>voltbridge crypto payments</h1><p>Buyers pay in SOL, USDC or USDT on the gateway at "
            f"<code>{url}</code>; every payment is reported to its Saleor transaction.</p>"
            "<p>Stores, wallets and this instance's binding are managed on the gateway: "
            "<code>voltbridge saleor list</code>.</p></body></html>")
    return Response(html, mimetype="text/html")


@bp.post("/register")
def register() -> Response:
    """Saleor's token registration: {"auth_token"} with the installing instance in Saleor-Api-Url."""
    body = read_json_object()
    svc = services()
    installation = installations.register(
        svc.uow, svc.vault, transport(svc), svc.clock, request.headers.get("Saleor-Api-Url"), body.get("auth_token"),
        domain=request.headers.get("Saleor-Domain"))
    return json_response({"success": True, "app_id": installation.app_id})


@bp.post("/webhooks/<slug>")
def webhook(slug: str) -> Response:
    """A sync webhook: verify the signature over the raw body, then hand the payload to its handler."""
    event = EVENT_FOR_SLUG.get(slug)
    if event is None:
        abort(404)
    named = (request.headers.get("Saleor-Event") or "").upper()
    if named and named != event:
        raise ValidationFailed(f"Saleor-Event {named} was sent to the {event} webhook")
    raw = _raw_body()
    svc = services()
    installation = installations.verified(svc.uow, transport(svc), svc.clock, request.headers.get("Saleor-Api-Url"),
                                          request.headers.get("Saleor-Signature"), raw)
    try:
        payload = loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):  # signed by Saleor yet unreadable: say so in the transaction
        return json_response(failure_answer("The webhook payload is not a JSON object", None))
    return json_response(HANDLERS[event](svc, installation, payload))


def _raw_body() -> bytes:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 64 * 1024
    if request.content_length is not None and request.content_length > limit:
        raise BodyError(413, "PAYLOAD_TOO_LARGE", f"Request body is larger than {limit} bytes")
    return request.get_data(cache=True)
