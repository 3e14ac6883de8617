"""The hosted pages' strings, one JSON file per language under bridge/locales/ (translate by adding a file),
the buyer's language (a remembered choice, else Accept-Language), and numbers and dates per locale (Babel).

Strings use {name} placeholders, filled the same way in Jinja (t()) and in the page's script.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal

LOCALES = Path(__file__).resolve().parent / "locales"
DEFAULT = "en"
COOKIE = "voltbridge_lang"
# Tags browsers send for a language we have under another name.
ALIASES = {"zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans-cn": "zh-Hans", "pt": "pt-BR"}


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


def pick(accept: Any, chosen: str | None = None) -> str:
    """The buyer's remembered choice if we have it, else the best match for Accept-Language (werkzeug's object)."""
    remembered = known(chosen)
    if remembered:
        return remembered
    if not accept:
        return DEFAULT
    for tag, _quality in accept:  # werkzeug lists them best first
        found = known(tag) or known(tag.split("-", 1)[0])
        if found:
            return found
    return DEFAULT


def translate(lang: str, key: str, **values: object) -> str:
    """The string `key`, placeholders filled; an unknown key shows itself so a gap is visible, not fatal."""
    text = catalogue(lang).get(key, key)
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _babel(lang: str) -> Locale:
    return Locale.parse(lang.replace("-", "_"))


def number(value: Decimal, lang: str) -> str:
    """A decimal as the language writes it (separators), every digit kept: amounts are exact, never rounded."""
    return format_decimal(value, format="#,##0.###", locale=_babel(lang), decimal_quantization=False)


def fixed(value: Decimal, lang: str) -> str:
    """A fiat amount as the language writes it, with exactly the decimals it has (25.00 stays 25.00)."""
    group, point = _separators(lang)
    # Python groups in threes, as every language here does; a list page formats fifty of these, and Babel's
    # pattern machinery cost more than the rest of the page.
    return format(value, ",f").translate({ord(","): group, ord("."): point})


@cache
def _separators(lang: str) -> tuple[str, str]:
    symbols = _babel(lang).number_symbols["latn"]
    return symbols["group"], symbols["decimal"]


def moment(value: datetime, lang: str) -> str:
    """A date and time as the language writes it, in UTC (the receipt says so)."""
    return format_datetime(value.astimezone(UTC), format="medium", tzinfo=UTC, locale=_babel(lang)) + " UTC"


def language_name(lang: str) -> str:
    """The language's own name for itself ('Deutsch', '中文'), for the switcher."""
    name = _babel(lang).get_display_name(_babel(lang)) or lang
    return name[:1].upper() + name[1:]
