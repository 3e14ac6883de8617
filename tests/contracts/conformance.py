"""Comparing what the live app answers or sends with a contract document's example.

`conforms` walks the example: every field it shows must be in ours, with a value of the same JSON type
(numbers are numbers whatever their spelling, `null` stays `null`), recursively; fields we add are allowed.
`literals` then compares the values the example fixes (deterministic ones: codes, echoes, constants).
Examples are read with exact decimals, as our bodies are, so `100.00` equals `100`.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # "2026-05-06T10:12:44Z"
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # "2024-01-31T12:05:00.000Z"


def raw(name: str) -> bytes:
    """An example's bytes as the document has them."""
    return (FIXTURES / name).read_bytes()


def example(name: str) -> Any:
    return json.loads(raw(name), parse_float=Decimal)


def headers_of(name: str) -> dict[str, str]:
    """'Name: value' lines of an example's header block."""
    lines = raw(name).decode().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def parse(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def conforms(documented: Any, ours: Any, path: str = "$", loose: frozenset[str] = frozenset()) -> None:
    """Every documented field is in ours with the same JSON type; `loose` paths may also be null (or not)."""
    if path in loose and (ours is None or documented is None):
        return
    assert _kind(ours) == _kind(documented), f"{path}: documented {_kind(documented)}, ours {_kind(ours)!s} " \
                                              f"({ours!r})"
    if isinstance(documented, dict):
        for name, value in documented.items():
            if name == "...":  # the document's "and the rest" placeholder
                continue
            assert name in ours, f"{path}: field {name!r} is missing (ours: {sorted(ours)})"
            conforms(value, ours[name], f"{path}.{name}", loose)
    elif isinstance(documented, list) and documented and ours:
        for item in ours:
            conforms(documented[0], item, f"{path}[]", loose)


def literals(documented: dict[str, Any], ours: dict[str, Any], *names: str) -> None:
    """The values the example fixes, equal in ours (dotted names reach into objects)."""
    for name in names:
        want, got = documented, ours
        for part in name.split("."):
            want, got = want[part], got[part]
        assert got == want, f"{name}: documented {want!r}, ours {got!r}"
