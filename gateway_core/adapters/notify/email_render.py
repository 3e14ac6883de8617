"""Merchant emails from templates/email/<event>/{subject.txt,body.txt,body.html}, rendered from a delivery body."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gateway_core.domain.money import plain
from gateway_core.ports import OutgoingEmail

TEMPLATES = Path(__file__).resolve().parents[3] / "templates" / "email"
DEFAULT_COLOR = "#4F46E5"
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _number(value: Any) -> str:
    return plain(value) if isinstance(value, Decimal) else ("" if value is None else str(value))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _number
    return env


def render(event_type: str, context: dict[str, Any], brand_color: str | None) -> tuple[str, str, str]:
    """(subject, text, html) for an event; the store payload is the context."""
    env = environment()
    folder = event_type if (TEMPLATES / event_type).is_dir() else "generic"
    values = {**context, "event_type": event_type,
              "color": brand_color if brand_color and _COLOR.match(brand_color) else DEFAULT_COLOR}
    subject = " ".join(env.get_template(f"{folder}/subject.txt").render(values).split())
    text = env.get_template(f"{folder}/body.txt").render(values)
    html = env.get_template(f"{folder}/body.html").render(values)
    return subject, text, html


def message_id(event_id: str, delivery_id: int, sender: str) -> str:
    """Stable across retries, so a mail that went out before a crash is recognised as the same message."""
    domain = sender.rsplit("@", 1)[-1].rstrip(">") or "localhost"
    return f"<{event_id}.{delivery_id}@{domain}>"


def build_email(event_type: str, context: dict[str, Any], *, brand_color: str | None, sender: str,
                recipient: str, event_id: str, delivery_id: int, date: datetime) -> OutgoingEmail:
    subject, text, html = render(event_type, context, brand_color)
    return OutgoingEmail(message_id(event_id, delivery_id, sender), sender, recipient, subject, text, html, date)
