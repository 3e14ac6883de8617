"""JSON as the wire contracts need it: Decimals as exact plain JSON numbers, floats refused, VOLTXT timestamps.

Shared by the bridge's responses (bridge/jsonio.py) and the core's webhook payloads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import simplejson

from gateway_core.domain.money import plain


class _PlainDecimal(Decimal):
    """A Decimal that renders in plain notation (never 1E-9) when simplejson writes it as a JSON number."""

    def __str__(self) -> str:
        return plain(self)


def iso(moment: datetime) -> str:
    """'2024-01-31T12:05:00.000Z', the timestamp shape of the VOLTXT spec."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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


def _refuse(value: Any) -> Any:
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(payload: Any) -> str:
    """Serialise with Decimals as exact JSON numbers (floats are refused: they have no place in money)."""
    return simplejson.dumps(_numbers(payload), use_decimal=True, ensure_ascii=False, separators=(",", ":"),
                            default=_refuse)


def loads(text: str | bytes) -> Any:
    """Parse with numbers kept exact (Decimal)."""
    return simplejson.loads(text, use_decimal=True)
