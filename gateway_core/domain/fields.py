"""The rules every contract applies to request fields, in one place: text, metadata, amounts, whole numbers.

Each rule returns the clean value or raises FieldError with what is wrong; a contract's *_wire.py names the
field and renders the problem in its own error format. Text that passes is valid Unicode (no lone UTF-16
surrogates, no NUL or other control characters), NFC-normalised where it is meant to be read as text,
stripped, and within its length: so whatever is stored can always be written back out as UTF-8 JSON.
"""

from __future__ import annotations

import json
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_METADATA_DEPTH = 5
MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_KEYS = 100
MAX_METADATA_KEY = 100
# Beyond these a number is not an amount anyone means, and exact arithmetic on it would be unbounded.
MAX_AMOUNT_DIGITS = 15  # before the decimal point: up to 999 trillion
MAX_AMOUNT_DECIMALS = 18
MAX_WHOLE = 2**31 - 1  # row ids and page numbers: every database's INTEGER holds it

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls and DEL: free text keeps tab and line breaks; identifiers keep none.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SUSPECT = re.compile("[\ud800-\udfff\x00-\x1f\x7f]")  # any character one of the three above may refuse
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_WHOLE = re.compile(r"^[0-9]+$")


class FieldError(ValueError):
    """What is wrong with one field's value, as the sentence after the field's name."""


class Missing(FieldError):
    """A required field is absent (some contracts answer this with another status than a malformed value)."""


class NotPositive(FieldError):
    """An amount that is a number, but zero or negative."""


def unicode_problem(text: str, *, multiline: bool = True) -> str | None:
    """Why this string cannot be stored as text (a lone surrogate, NUL, a control character), or None."""
    if not _SUSPECT.search(text):
        return None  # nearly every string: one scan instead of three (a create checks some sixty)
    if _LONE_SURROGATE.search(text):
        return "must be valid Unicode (it has a lone surrogate)"
    if "\x00" in text:
        return "must not contain NUL characters"
    if (_CONTROL_IN_TEXT if multiline else _CONTROL).search(text):
        return "must not contain control characters"
    return None


def text(value: object, limit: int, *, required: bool = False, numbers: bool = True, multiline: bool = False,
         normalise: bool = True) -> str | None:
    """A text field: str (or a number, for order ids, when `numbers`), valid, NFC, stripped, non-blank, at most
    `limit` characters; None when absent or blank and not required."""
    if value is None or value == "":
        if required:
            raise Missing("is required")
        return None
    if numbers and isinstance(value, int | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise FieldError("must be a string")
    problem = unicode_problem(value, multiline=multiline)
    if problem:
        raise FieldError(problem)
    cleaned = unicodedata.normalize("NFC", value).strip() if normalise else value.strip()
    if not cleaned:
        if required:
            raise FieldError("must not be blank")
        return None
    if len(cleaned) > limit:
        raise FieldError(f"must be at most {limit} characters")
    return cleaned


def metadata(value: object, *, max_bytes: int = MAX_METADATA_BYTES) -> dict[str, Any] | None:
    """A metadata object, returned verbatim if every key and string is valid text, it nests at most
    MAX_METADATA_DEPTH levels, has at most MAX_METADATA_KEYS keys in all and serialises within max_bytes."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError("must be an object")
    keys = _walk(value, 1, "")
    if keys > MAX_METADATA_KEYS:
        raise FieldError(f"must have at most {MAX_METADATA_KEYS} keys")
    if _json_size(value) > max_bytes:
        raise FieldError(f"must be at most {max_bytes} bytes")
    return value



def _json_size(value: Any) -> int:
    """Bytes of the value as compact UTF-8 JSON with its Decimals written as numbers (as it is stored)."""
    decimals = 0

    def number(found: object) -> str:
        nonlocal decimals
        if not isinstance(found, Decimal):
            raise TypeError(f"cannot serialise {type(found).__name__}")
        decimals += 1
        return str(found)  # written as a string: its two quotes are taken off below

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=number)
    return len(text.encode()) - 2 * decimals


def _walk(value: Any, depth: int, path: str) -> int:
    """Check one level; returns the number of keys at and below it."""
    if depth > MAX_METADATA_DEPTH:
        raise FieldError(f"must nest at most {MAX_METADATA_DEPTH} levels")
    keys = 0
    items: list[tuple[str, Any]]
    if isinstance(value, dict):
        items = []
        for key, inner in value.items():
            if not isinstance(key, str):
                raise FieldError("keys must be strings")
            problem = unicode_problem(key, multiline=False) or (
                f"must be at most {MAX_METADATA_KEY} characters" if len(key) > MAX_METADATA_KEY else None)
            if problem:
                raise FieldError(f"keys {problem}")
            items.append((_shown(path, key), inner))
        keys += len(items)
    else:
        items = [(f"{path}[{n}]", inner) for n, inner in enumerate(value)]
    for where, inner in items:
        if isinstance(inner, dict | list):
            keys += _walk(inner, depth + 1, where)
        elif isinstance(inner, str):
            problem = unicode_problem(inner)
            if problem:
                raise FieldError(f"{where}: {problem}")
        elif isinstance(inner, Decimal) and (not inner.is_finite() or abs(inner.adjusted()) > 100):
            raise FieldError(f"{where}: numbers must be finite and within 1e100")
        elif isinstance(inner, int) and not isinstance(inner, bool) and abs(inner) >= 10**100:
            raise FieldError(f"{where}: numbers must be within 1e100")
    return keys


def _shown(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def amount(value: object, *, numbers: bool = True) -> Decimal:
    """A positive amount: a JSON number (finite, within bounds) or an ASCII decimal string ("49.99"), never
    an exponent, an underscore, a sign or digits of another script. `numbers=False` takes strings only."""
    if value is None or value == "":
        raise Missing("is required")
    if isinstance(value, bool):
        raise FieldError("must be a number")
    if isinstance(value, str):
        if not _AMOUNT.fullmatch(value) or len(value) > MAX_AMOUNT_DIGITS + MAX_AMOUNT_DECIMALS + 1:
            raise FieldError('must be a plain decimal such as "49.99" (digits and one point)')
        parsed = Decimal(value)
    elif isinstance(value, int | Decimal) and numbers:
        parsed = Decimal(value)
        if not parsed.is_finite():
            raise FieldError("must be a finite number")
    else:
        raise FieldError('must be a decimal string such as "49.99"' if not numbers else "must be a number")
    if parsed <= 0:
        raise NotPositive("must be greater than zero")
    if parsed.adjusted() >= MAX_AMOUNT_DIGITS:
        raise FieldError(f"must be less than 1e{MAX_AMOUNT_DIGITS}")
    _sign, digits, exponent = parsed.as_tuple()
    assert isinstance(exponent, int)  # finite
    if len(digits) > MAX_AMOUNT_DIGITS + MAX_AMOUNT_DECIMALS:
        raise FieldError(f"must have at most {MAX_AMOUNT_DIGITS + MAX_AMOUNT_DECIMALS} digits")
    while exponent < 0 and digits[-1] == 0:  # 1.500 has 1 decimal
        digits, exponent = digits[:-1], exponent + 1
    if exponent < -MAX_AMOUNT_DECIMALS:
        raise FieldError(f"must have at most {MAX_AMOUNT_DECIMALS} decimals")
    return parsed


def whole(value: object, *, default: int | None = None, low: int = 0, high: int = MAX_WHOLE) -> int:
    """A whole number from low to high: a JSON integer, an integral JSON number, or a string of ASCII digits."""
    if value is None or value == "":
        if default is None:
            raise Missing("is required")
        return default
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, Decimal):
        try:
            if value.is_finite() and abs(value.adjusted()) <= 18 and value == value.to_integral_value():
                number = int(value)
        except InvalidOperation:
            number = None
    elif isinstance(value, str) and _WHOLE.fullmatch(value) and len(value) <= 18:
        number = int(value)
    if number is None or not low <= number <= high:
        raise FieldError(f"must be a whole number from {low} to {high}")
    return number


def json_problem(value: Any, path: str = "", depth: int = 0, max_depth: int = 64) -> tuple[str, str] | None:
    """(field path, problem) for the first string or key of a parsed JSON body that is not valid text, or a
    body nested deeper than max_depth; None when the whole body is clean. Iterative: no depth can overflow it."""
    stack: list[tuple[Any, str, int]] = [(value, path, depth)]
    while stack:
        node, where, level = stack.pop()
        if level > max_depth:
            return where or "body", f"must nest at most {max_depth} levels"
        if isinstance(node, str):
            problem = unicode_problem(node)
            if problem:
                return where or "body", problem
        elif isinstance(node, dict):
            for key, inner in node.items():
                shown = _shown(where, key) if isinstance(key, str) else where
                problem = unicode_problem(key, multiline=False) if isinstance(key, str) else None
                if problem:
                    return shown.encode("utf-8", "backslashreplace").decode(), f"key {problem}"
                stack.append((inner, shown, level + 1))
        elif isinstance(node, list):
            stack.extend((inner, f"{where}[{n}]", level + 1) for n, inner in enumerate(node))
    return None
