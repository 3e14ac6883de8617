"""Errors in each contract's own format, chosen by URL prefix; no stack trace ever reaches a client."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from bridge.jsonio import BodyError, json_response
from gateway_core.domain.errors import GatewayError
from gateway_core.domain.lifecycle import InvalidTransition

log = logging.getLogger("bridge.errors")


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    errors: dict[str, str] = field(default_factory=dict)


Renderer = Callable[[Problem, str], Response]
STATUS_BY_CODE = {
    "INVALID_API_KEY": 401,
    "VALIDATION_ERROR": 422,
    "DUPLICATE_EXTERNAL_ID": 409,
    "INVOICE_NOT_FOUND": 404,
    "STORE_NOT_FOUND": 404,
    "NO_DESTINATION_WALLET": 422,
    "NETWORK_MISMATCH": 422,
    "AMOUNT_TOO_LOW": 422,
    "AMOUNT_TOO_HIGH": 422,
    "INVALID_INVOICE_STATE": 409,
    "EXPIRED_INVOICE": 409,
    "RATE_UNAVAILABLE": 503,
    "VAULT_INITIALIZATION_FAILED": 502,
    "WEBHOOK_NOT_CONFIGURED": 422,
    "EMAIL_NOT_ENABLED": 422,
    "DELIVERY_NOT_FOUND": 404,
    "PAYMENT_NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "EMAIL_NOT_FOUND": 404,
    "FORBIDDEN": 403,  # the dashboard (issue 22): a member whose role does not allow the action
    "INVALID_CREDENTIALS": 401,
    "SIGNUP_CLOSED": 403,
    "KEY_NOT_FOUND": 404,
}
_HTTP_CODES = {403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
               415: "UNSUPPORTED_MEDIA_TYPE", 429: "RATE_LIMITED"}


def _default_renderer(problem: Problem, request_id: str) -> Response:
    body: dict[str, object] = {"error": {"code": problem.code, "message": problem.message}, "request_id": request_id}
    if problem.errors:
        body["errors"] = problem.errors
    return json_response(body, problem.status)


def register_format(app: Flask, prefix: str, renderer: Renderer) -> None:
    """Render errors under `prefix` with `renderer` (longest prefix wins)."""
    formats: dict[str, Renderer] = app.extensions.setdefault("voltbridge.error_formats", {})
    formats[prefix] = renderer


def _renderer(app: Flask) -> Renderer:
    formats: dict[str, Renderer] = app.extensions.get("voltbridge.error_formats", {})
    for prefix in sorted(formats, key=len, reverse=True):
        if request.path.startswith(prefix):
            return formats[prefix]
    return _default_renderer


def problem_for(exc: BaseException) -> Problem:
    if isinstance(exc, GatewayError):
        return Problem(STATUS_BY_CODE.get(exc.code, 400), exc.code, exc.message, exc.errors)
    if isinstance(exc, BodyError):
        return Problem(exc.status, exc.code, exc.message)
    if isinstance(exc, InvalidTransition):
        return Problem(409, "INVALID_INVOICE_STATE", str(exc))
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        return Problem(status, _HTTP_CODES.get(status, "HTTP_ERROR"), exc.description or exc.name)
    return Problem(500, "INTERNAL_ERROR", "Server error occurred")


def init_app(app: Flask) -> None:
    def handle(exc: BaseException) -> Response:
        problem = problem_for(exc)
        request_id = g.get("request_id", "-")
        if problem.status >= 500:
            log.error("request failed", exc_info=exc, extra={"request_id": request_id, "path": request.path})
        return _renderer(app)(problem, request_id)

    for kind in (GatewayError, BodyError, InvalidTransition, HTTPException, Exception):
        app.register_error_handler(kind, handle)
