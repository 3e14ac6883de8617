"""Every string key the dashboard uses is in English (and so, by test_locales, in every language), and no
dashboard template holds text of its own: every word a visitor reads goes through t()."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from flask_wtf import FlaskForm
from jinja2 import Environment
from wtforms.fields.core import UnboundField

from bridge.dashboard import forms as dashboard_forms
from bridge.dashboard.inbox import AttachForm
from bridge.dashboard.invoice_page import DecisionForm
from bridge.dashboard.notifications import NOTICES
from gateway_core.accounts.members import ROLES
from gateway_core.stores.manage import SETTLEMENT_MODES

ROOT = Path(__file__).resolve().parents[2]


def test_every_dashboard_string_key_exists() -> None:
    strings = json.loads((ROOT / "locales/en.json").read_text(encoding="utf-8"))
    used: set[str] = set()
    for template in (ROOT / "templates/dashboard").glob("*.html"):
        used |= set(re.findall(r'\bt\(\s*["\']([a-z_]+)["\']\s*[,)]', template.read_text(encoding="utf-8")))
    # Keys built from a value: notices, endpoint health, alert kinds.
    used |= {f"dash_done_{n}" for n in NOTICES}
    used |= {f"dash_health_{h}" for h in ("healthy", "degraded", "failing")}
    used |= {f"dash_alert_{k}" for k in ("fee_payer_low", "watcher_behind", "rates_unavailable", "worker_silent")}
    used.add("dash_test_not_ready")
    assert used - set(strings) == set()
    assert len(used) > 50


# Words a page may show as they are, in every language: names, units and standard terms.
AS_THEY_ARE = {"voltbridge", "WooCommerce", "Saleor", "Shopify", "URL", "HTML", "Message", "ID", "ms", "UTC"}
# Elements whose text is not prose: code and the names of another product's menus (marked translate="no").
VERBATIM = {"code", "pre", "script", "style"}
# Attributes a visitor reads or hears.
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}
WORD = re.compile(r"[^\W\d_]{2,}")
# A string constant in an expression that reads as prose ("Secret", "not yet"), not a key, value or format.
PROSE = re.compile(r"^[A-Z][a-z]+$|[A-Za-z]{2,} [A-Za-z]{2,}")


class _Text(HTMLParser):
    """The text nodes and read attributes of a page whose Jinja parts are blanked out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._verbatim: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in VERBATIM or values.get("translate") == "no":
            self._verbatim.append(tag)
        self.found += [value or "" for name, value in attrs if name in READ_ATTRIBUTES]

    def handle_endtag(self, tag: str) -> None:
        if self._verbatim and self._verbatim[-1] == tag:
            self._verbatim.pop()

    def handle_data(self, data: str) -> None:
        if not self._verbatim:
            self.found.append(data)


def _literal_text(source: str) -> tuple[list[str], list[str]]:
    """(the words of the template's own text, its prose-like string constants), Jinja expressions left out."""
    plain, constants = [], []
    for _line, kind, value in Environment().lex(source):
        if kind == "data":
            plain.append(value)
        else:
            plain.append(" ")  # an expression's output is its own business (t(), data)
            if kind == "string" and PROSE.search(value.strip("\"'")):
                constants.append(value.strip("\"'"))
    parser = _Text()
    parser.feed("".join(plain))
    words = [w for text in parser.found for w in WORD.findall(text) if w not in AS_THEY_ARE]
    return words, constants


def test_no_dashboard_template_holds_untranslated_text() -> None:
    left = {}
    for template in sorted((ROOT / "templates/dashboard").glob("*.html")):
        words, constants = _literal_text(template.read_text(encoding="utf-8"))
        if words or constants:
            left[template.name] = words + constants
    assert left == {}


def test_the_scan_sees_text_attributes_and_prose_constants() -> None:
    words, constants = _literal_text('<p title="Hint">Keep it {{ t("dash_x") }}</p><code>voltxt</code>'
                                     '<em translate="no">Apps</em>{{ "Secret" if a else t("dash_key") }}')
    assert words == ["Hint", "Keep", "it"] and constants == ["Secret"]


def test_every_form_label_and_choice_key_exists() -> None:
    strings = json.loads((ROOT / "locales/en.json").read_text(encoding="utf-8"))
    forms = [getattr(dashboard_forms, name) for name in dir(dashboard_forms)]
    forms += [AttachForm, DecisionForm]
    labels = {field.args[0] for form in forms if isinstance(form, type) and issubclass(form, FlaskForm)
              for field in vars(form).values() if isinstance(field, UnboundField)}
    keys = labels | {f"dash_role_{r}" for r in ROLES} | {f"dash_settlement_{m}" for m in SETTLEMENT_MODES}
    keys |= set(dashboard_forms.WTFORMS_MESSAGES.values())
    keys |= {f"dash_problem_{status}" for status in (400, 403, 404, 500)}
    assert len(labels) > 15 and keys - set(strings) == set()

