"""The buyer's language on the hosted pages: a remembered choice, else Accept-Language. The strings and the
number and date formats are the core's (gateway_core.adapters.i18n), shared with the merchant emails."""

from __future__ import annotations

from typing import Any

from gateway_core.adapters.i18n import DEFAULT, available, babel_locale, known

COOKIE = "voltbridge_lang"


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


def language_name(lang: str) -> str:
    """The language's own name for itself ('Deutsch', '中文'), for the switcher."""
    name = babel_locale(lang).get_display_name(babel_locale(lang)) or lang
    return name[:1].upper() + name[1:]


def languages() -> list[tuple[str, str]]:
    """(code, own name) of every language we ship, for a choice of language."""
    return [(code, language_name(code)) for code in available()]
