"""The hosted pages' strings, one JSON file per language under bridge/locales/ (translate by adding a file).

Strings use {name} placeholders, filled the same way in Jinja (t()) and in the page's script.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).resolve().parent / "locales"
DEFAULT = "en"


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


def pick(accept: Any) -> str:
    """The best available language for a request's Accept-Language (werkzeug's MIMEAccept-like object)."""
    return accept.best_match(available(), default=DEFAULT) if accept else DEFAULT


def translate(lang: str, key: str, **values: object) -> str:
    """The string `key`, placeholders filled; an unknown key shows itself so a gap is visible, not fatal."""
    text = catalogue(lang).get(key, key)
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text
