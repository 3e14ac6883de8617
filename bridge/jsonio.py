"""JSON in and out of the wire contracts: exact Decimals both ways, bounded bodies, clear failures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import simplejson
from flask import Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from gateway_core.domain.money import plain


class BodyError(Exception):
    """A request body that is not a JSON object we can read; contracts render it in their own format."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _PlainDecimal(Decimal):
    """A Decimal that renders in plain notation (never 1E-9) when simplejson writes it as a JSON number."""

    def __str__(self) -> str:
        return plain(self)


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _PlainDecimal(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_numbers(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, float):
        raise TypeError("floats have no place in a money API: use Decimal")
    return value


def dumps(payload: Any) -> str:
    """Serialise with Decimals as exact JSON numbers (floats are refused: they have no place in money)."""
    return simplejson.dumps(_numbers(payload), use_decimal=True, ensure_ascii=False, separators=(",", ":"),
                            default=_refuse)


def _refuse(value: Any) -> Any:
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json", headers=headers)


def iso(moment: datetime) -> str:
    """'2024-01-31T12:05:00.000Z', the timestamp shape of the VOLTXT spec."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
        return {}
    if request.mimetype != "application/json":
        raise BodyError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
    try:
        body = simplejson.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(400, "INVALID_JSON", f"Malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BodyError(400, "INVALID_JSON", "Request body must be a JSON object")
    return body
