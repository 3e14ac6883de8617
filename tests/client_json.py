"""JSON as a client writes it, for requests the tests send: non-ASCII (lone surrogates too) as \\u escapes,
Decimals as written (1.50 stays 1.50)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_MARK = "\x00decimal:"  # a Decimal passes through the encoder as this string, then loses its quotes
_MARKED = re.compile(r'"\\u0000decimal:([^"]*)"')


def _number(value: object) -> str:
    if isinstance(value, Decimal):
        return _MARK + str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def client_json(body: Any) -> str:
    """The body as JSON text with exact Decimal numbers."""
    return _MARKED.sub(r"\1", json.dumps(body, default=_number))
