"""Merchant emails from templates/email/<event>/{subject.txt,body.txt,body.html}, rendered from a delivery body
in the store's language: the strings are the email_* keys of locales/<lang>.json, and every amount, percentage
and time is written as that language writes it (Babel)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from gateway_core.adapters import i18n
from gateway_core.domain import money
from gateway_core.ports import OutgoingEmail

TEMPLATES = Path(__file__).resolve().parents[3] / "templates" / "email"
DEFAULT_COLOR = "#4F46E5"
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_SPACES = re.compile(r"[ \t\r\n]+")


@pass_context
def _number(context: Context, value: Any) -> str:
    """An amount, percentage or count as the email's language writes it; anything not a number as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value)
    try:
        amount = value if isinstance(value, Decimal | int) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return i18n.number(amount, context["lang"])


@pass_context
def _percent(context: Context, value: Any) -> str:
    """A percentage as the email's language writes it, sign included."""
    try:
        return i18n.percent(Decimal(str(value)), context["lang"])
    except (InvalidOperation, ValueError):
        return str(value)


@pass_context
def _when(context: Context, value: Any) -> str:
    """An ISO 8601 time (as payloads carry it) as the email's language writes it, in UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        return i18n.moment(value if value.tzinfo else value.replace(tzinfo=UTC), context["lang"])
    return "" if value is None else str(value)


@pass_context
def _status(context: Context, value: Any) -> str:
    """An invoice status in words; a status the strings do not know shows as it is."""
    key = f"email_status_{value}"
    text = i18n.translate(context["lang"], key)
    return str(value) if text == key else text


@pass_context
def _label(context: Context, key: str, width: int) -> str:
    """A text email's label and colon, padded so the values line up."""
    return (i18n.translate(context["lang"], key) + ":").ljust(width)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _number
    env.filters["pct"] = _percent
    env.filters["when"] = _when
    env.filters["status"] = _status
    env.globals["label"] = _label
    return env


def _luminance(color: str) -> float:
    """WCAG relative luminance of #RRGGBB."""
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def colours(brand_color: str | None) -> dict[str, str]:
    """The brand colour, the text colour that reads on it, and a link colour that reads on white (WCAG AA)."""
    color = brand_color if brand_color and _COLOR.match(brand_color) else DEFAULT_COLOR
    lum = _luminance(color)
    on_color = "#ffffff" if _contrast(lum, 1.0) >= _contrast(lum, _luminance("#111827")) else "#111827"
    link = color if _contrast(lum, 1.0) >= 4.5 else "#1d4ed8"
    return {"color": color, "on_color": on_color, "link_color": link}


# Subject prefixes stay these words in every language: a mail filter on "[Sandbox]" must catch them all.
NETWORK_TAGS = {"sandbox": "Sandbox", "devnet": "Devnet", "testnet": "Devnet"}


def network_tag(context: dict[str, Any]) -> str | None:
    """'Sandbox' or 'Devnet' off mainnet (subjects carry it in brackets); None on mainnet."""
    invoice = context.get("invoice") if isinstance(context.get("invoice"), dict) else {}
    store = context.get("store") if isinstance(context.get("store"), dict) else {}
    network = (invoice or {}).get("network") or (store or {}).get("network") or "mainnet"
    return NETWORK_TAGS.get(str(network).lower())


def _raw(amount: Decimal, code: str, lang: str) -> str:
    """Small print: the amount in the asset's smallest unit, as the chain records it."""
    unit = money.asset(code)
    return i18n.translate(lang, "email_base_units", units=i18n.number(int(amount.scaleb(unit.decimals)), lang),
                          decimals=unit.decimals)


def paid_breakdown(context: dict[str, Any], lang: str = i18n.DEFAULT) -> tuple[dict[str, Any] | None,
                                                                             dict[str, Any] | None]:
    """What the customer paid, in the asset actually paid, and the deposit account's rent (SOL) if any."""
    invoice = context.get("invoice")
    if not isinstance(invoice, dict):
        return None, None
    breakdown = invoice.get("payment_breakdown") or {}
    code = str(breakdown.get("customer_payment_currency") or invoice.get("paid_currency")
               or invoice.get("crypto_currency") or "SOL")
    amount = Decimal(str(breakdown.get("customer_payment_amount", invoice.get("amount_received_crypto")) or 0))
    try:
        paid = {"amount": amount, "asset": code, "raw": _raw(amount, code, lang)}
    except money.MoneyError:
        paid = {"amount": amount, "asset": code, "raw": ""}
    rent_amount = Decimal(str(breakdown.get("rent_sol") or 0))
    rent = {"amount": rent_amount, "raw": _raw(rent_amount, "SOL", lang)} if rent_amount else None
    return paid, rent


def render(event_type: str, context: dict[str, Any], brand_color: str | None, logo_url: str | None = None,
           *, logo_size: tuple[int, int] | None = None, lang: str = i18n.DEFAULT) -> tuple[str, str, str]:
    """(subject, text, html) for an event in `lang`; the store payload is the context.

    logo_size is the size the logo is drawn at (branding.EMAIL_BOX): its <img> carries it, so nothing moves.
    """
    env = environment()
    lang = i18n.known(lang) or i18n.DEFAULT
    folder = event_type if (TEMPLATES / event_type).is_dir() else "generic"
    tag = network_tag(context)
    paid, rent = paid_breakdown(context, lang)

    def t(key: str, **values: object) -> str:
        return i18n.translate(lang, key, **values)

    values = {**context, "event_type": event_type, **colours(brand_color), "network_tag": tag, "paid": paid,
              "rent": rent, "logo_url": logo_url, "logo_size": logo_size, "lang": lang, "t": t}
    # ASCII whitespace only: str.split() would also take the no-break spaces that group digits (fr, de's "50 %").
    subject = _SPACES.sub(" ", env.get_template(f"{folder}/subject.txt").render(values)).strip()
    if tag:
        subject = f"[{tag}] {subject}"
    text = env.get_template(f"{folder}/body.txt").render(values)
    html = env.get_template(f"{folder}/body.html").render(values)
    return subject, text, html


def message_id(event_id: str, delivery_id: int, sender: str) -> str:
    """Stable across retries, so a mail that went out before a crash is recognised as the same message."""
    domain = sender.rsplit("@", 1)[-1].rstrip(">") or "localhost"
    return f"<{event_id}.{delivery_id}@{domain}>"


def build_email(event_type: str, context: dict[str, Any], *, brand_color: str | None, sender: str,
                recipient: str, event_id: str, delivery_id: int, date: datetime,
                logo_url: str | None = None, logo_size: tuple[int, int] | None = None,
                lang: str = i18n.DEFAULT) -> OutgoingEmail:
    subject, text, html = render(event_type, context, brand_color, logo_url, logo_size=logo_size, lang=lang)
    return OutgoingEmail(message_id(event_id, delivery_id, sender), sender, recipient, subject, text, html, date)
