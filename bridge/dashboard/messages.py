"""The core's messages a person meets on the account and member pages, said in the visitor's language.

The core speaks English to every caller (the JSON APIs, the CLI); the dashboard says these through the locale
files. Keyed by the core's own message: tests/unit/test_dashboard_strings.py checks that each still occurs in
the core, so a reworded message fails a test instead of quietly turning English again.
"""

from __future__ import annotations

from bridge.dashboard.blueprint import t
from gateway_core.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from gateway_core.domain.errors import GatewayError

CORE_MESSAGES = {
    "Invalid email": "dash_core_invalid_email",
    "Email already registered": "dash_core_email_taken",
    "Invalid password": "dash_core_invalid_password",
    "Sign-up is closed on this gateway": "dash_core_signup_closed",
    "Invalid role": "dash_core_invalid_role",
    "No such account": "dash_core_no_account",
    "Not a member": "dash_core_not_member",
    "A store needs an owner": "dash_core_last_owner",
}


def said(exc: GatewayError) -> tuple[str, dict[str, str]]:
    """(the page's message, the fields' messages) for a refused action: ours when we know the core's message
    (the sentence says what the field detail said), else the core's own."""
    key = CORE_MESSAGES.get(exc.message)
    if key is None:
        return exc.message, dict(getattr(exc, "errors", None) or {})
    return t(key, min=MIN_LENGTH, max=MAX_LENGTH), {}
