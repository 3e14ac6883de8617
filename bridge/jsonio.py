"""JSON in and out of the wire contracts: exact Decimals both ways, bounded bodies, clear failures."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Response, current_app, request
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from gateway_core.adapters.jsonwire import dumps, iso
from gateway_core.domain import fields
from gateway_core.domain.errors import ValidationFailed

__all__ = ["BodyError", "check_text", "check_url", "dumps", "iso", "json_response", "read_json_object"]
MAX_DEPTH = 32  # far beyond any contract's shape (metadata itself stops at fields.MAX_METADATA_DEPTH)


class BodyError(Exception):
    """A request body that is not a JSON object we can read; contracts render it in their own format."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json", headers=headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_json_object(required: bool = True) -> dict[str, Any]:
    """The request body as a dict, numbers as Decimal/int; BodyError for anything else."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 64 * 1024
    if request.content_length is not None and request.content_length > limit:
        raise BodyError(413, "PAYLOAD_TOO_LARGE", f"Request body is larger than {limit} bytes")
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise BodyError(413, "PAYLOAD_TOO_LARGE", f"Request body is larger than {limit} bytes") from None
    if not raw.strip():
        if required:
            raise BodyError(400, "INVALID_JSON", "Request body must be a JSON object")
        # Only an empty body of no declared type, or JSON's, stands for {}: an empty form post is not a request
        # this API knows (a cross-site form can send one without the browser asking first).
        if request.mimetype not in ("", "application/json"):
            raise BodyError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
        return {}
    if request.mimetype != "application/json":
        raise BodyError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(400, "INVALID_JSON", f"Malformed JSON: {exc}") from None
    except RecursionError:
        raise BodyError(400, "INVALID_JSON", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(body, dict):
        raise BodyError(400, "INVALID_JSON", "Request body must be a JSON object")
    check_text(body)
    return body


def check_text(body: dict[str, Any]) -> None:
    """Refuse, naming the field, a body with a string or key that is not storable text (a lone surrogate, NUL)
    anywhere in it, or nested beyond MAX_DEPTH: every contract's fields are then valid Unicode at the door."""
    found = fields.json_problem(body, max_depth=MAX_DEPTH)
    if found is not None:
        where, problem = found
        raise ValidationFailed("Request validation failed", errors={where: problem})


def check_url() -> None:
    """Before every request: a path part that is no storable text or too large an id names nothing (404); a
    query parameter that is no storable text is refused naming it (so no NUL reaches a database query)."""
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not 0 <= value <= fields.MAX_WHOLE:
            raise NotFound()
        if isinstance(value, str) and fields.unicode_problem(value, multiline=False):
            raise NotFound()
    for name, value in request.args.items(multi=True):
        problem = fields.unicode_problem(name, multiline=False) or fields.unicode_problem(value)
        if problem:
            shown = name if not fields.unicode_problem(name, multiline=False) else "query"
            raise ValidationFailed("Request validation failed", errors={shown: problem})
