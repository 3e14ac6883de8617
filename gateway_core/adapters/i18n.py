"""Strings in every language we ship, one JSON file per language under locales/ (translate by adding a file),
and numbers and dates as each language writes them (Babel). The hosted pages and the merchant emails share them.

Strings use {name} placeholders, filled the same way in Jinja (t()) and in the payment page's script.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import (
    format_decimal,
    format_percent,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)

from gateway_core.domain.errors import ValidationFailed, said

LOCALES = Path(__file__).resolve().parents[2] / "locales"
DEFAULT = "en"
# Tags browsers send for a language we have under another name.
ALIASES = {"zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans-cn": "zh-Hans", "pt": "pt-BR"}
# Every digit kept (amounts are exact, never rounded), grouped by thousands as the language does.
NUMBER_PATTERN = "#,##0.###"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every string of one language, falling back to English for keys a translation lacks."""
    strings: dict[str, str] = json.loads((LOCALES / f"{DEFAULT}.json").read_text(encoding="utf-8"))
    if lang != DEFAULT:
        strings = {**strings, **json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))}
    return strings


@cache
def available() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in LOCALES.glob("*.json")))


def known(tag: str | None) -> str | None:
    """The available language a tag names (case-insensitive, with aliases), or None."""
    if not tag:
        return None
    lowered = tag.strip().lower()
    for lang in available():
        if lang.lower() == lowered:
            return lang
    return ALIASES.get(lowered)


def checked_language(tag: object) -> str:
    """A store's language setting: a language we ship (aliases and any case accepted), else ValidationFailed."""
    found = known(tag) if isinstance(tag, str) else None
    if found is None:
        raise ValidationFailed(said("request_invalid", "Request validation failed"), errors={"language": said(
            "d_one_of", f"must be one of: {', '.join(available())}", choices=", ".join(available()))})
    return found


def translate(lang: str, key: str, **values: object) -> str:
    """The string `key`, placeholders filled; an unknown key shows itself so a gap is visible, not fatal."""
    text = catalogue(lang).get(key, key)
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def babel_locale(lang: str) -> Locale:
    return Locale.parse(lang.replace("-", "_"))


def number(value: Decimal | int, lang: str) -> str:
    """A decimal as the language writes it (separators), every digit kept: amounts are exact, never rounded."""
    return format_decimal(value, format=NUMBER_PATTERN, locale=babel_locale(lang), decimal_quantization=False)


def percent(value: Decimal | int, lang: str) -> str:
    """A percentage (50 for 50 %) as the language writes it: '50%', '50 %' (fr, de), '%50' (tr)."""
    return format_percent(Decimal(value) / 100, locale=babel_locale(lang), decimal_quantization=False)


def number_symbols(lang: str) -> dict[str, str]:
    """The separators number() uses, for the payment page's script to write amounts that arrive later the same way."""
    locale = babel_locale(lang)
    return {"decimal": get_decimal_symbol(locale), "group": get_group_symbol(locale),
            "minus": get_minus_sign_symbol(locale), "percent": percent(7, lang).replace("7", "{n}")}


def fixed(value: Decimal, lang: str) -> str:
    """A fiat amount as the language writes it, with exactly the decimals it has (25.00 stays 25.00)."""
    group, point = _separators(lang)
    # Python groups in threes, as every language here does; a list page formats fifty of these, and Babel's
    # pattern machinery cost more than the rest of the page.
    return format(value, ",f").translate({ord(","): group, ord("."): point})


@cache
def _separators(lang: str) -> tuple[str, str]:
    symbols = babel_locale(lang).number_symbols["latn"]
    return symbols["group"], symbols["decimal"]


def moment(value: datetime, lang: str) -> str:
    """A date and time as the language writes it, in UTC (the text says so)."""
    return format_datetime(value.astimezone(UTC), format="medium", tzinfo=UTC, locale=babel_locale(lang)) + " UTC"
