"""The core's refusals a person meets on a dashboard page, said in the visitor's language.

The core speaks English to every caller (the JSON APIs, the CLI) and gives each sentence it raises a stable key
with its parameters (gateway_core.domain.errors.Said); the dashboard says locale key dash_core_<key> with them.
A sentence raised without a key stays the core's English. tests/unit/test_core_message_keys.py checks that every
key the core raises is in every locale file.
"""

from __future__ import annotations

from bridge.dashboard.blueprint import t
from gateway_core.domain.errors import GatewayError, Said


def say(sentence: Said) -> str:
    """One keyed sentence of the core in the visitor's language; a parameter that is a sentence itself (the
    reason an address is refused) is said too, and an invoice status by its label."""
    params = {name: say(value) if isinstance(value, Said) else _status(value) if name == "status" else value
              for name, value in sentence.params.items()}
    return t(f"dash_core_{sentence.key}", **params)


def _status(value: object) -> object:
    label = t(f"dash_status_{value}")
    return value if label == f"dash_status_{value}" else label


def said(exc: GatewayError) -> tuple[str, dict[str, str]]:
    """(the page's message, the fields' messages) for a refused action."""
    message = say(exc.said) if exc.said is not None else exc.message
    details = getattr(exc, "details", {})
    # The core names a wallet's field wallet.SOL (as the APIs and the CLI do); the forms name it wallet_sol.
    fields = {name.replace(".", "_").lower(): say(details[name]) if name in details else text
              for name, text in exc.errors.items()}
    return message, fields
