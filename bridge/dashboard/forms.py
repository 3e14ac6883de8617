"""The dashboard's forms (Flask-WTF: each carries its CSRF token). Rules on values live in the core.

Labels are locale keys (the field macro says them in the visitor's language), and WTForms' own messages go
through the same locale files (WTForms asks its Meta for the gettext it speaks with).
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from bridge.dashboard.blueprint import t
from bridge.i18n import languages
from gateway_core.accounts.members import ROLES
from gateway_core.adapters.i18n import DEFAULT as DEFAULT_LANGUAGE
from gateway_core.keys.api_keys import KEY_KINDS
from gateway_core.stores.manage import NETWORKS, SETTLEMENT_MODES

# The WTForms messages these forms can raise, by the locale key that says them.
WTFORMS_MESSAGES = {
    "This field is required.": "dash_err_required",
    "Not a valid choice.": "dash_err_choice",
    "Field cannot be longer than %(max)d character.": "dash_err_too_long",
    "Field cannot be longer than %(max)d characters.": "dash_err_too_long",
}


class _Strings:
    """WTForms' translations object, reading the locale files in the visitor's language."""

    def gettext(self, text: str) -> str:
        key = WTFORMS_MESSAGES.get(text)
        return t(key) if key else text

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        # WTForms fills these with % after: the locale's {max} becomes its %(max)d.
        key = WTFORMS_MESSAGES.get(singular if n == 1 else plural)
        return t(key).replace("%", "%%").replace("{max}", "%(max)d") if key else (singular if n == 1 else plural)


class DashboardForm(FlaskForm):
    class Meta:
        def get_translations(self, form: Any) -> _Strings:
            return _Strings()


def _roles() -> list[tuple[str, str]]:
    return [(role, t(f"dash_role_{role}")) for role in ROLES]


def _settlement_modes() -> list[tuple[str, str]]:
    return [(mode, t(f"dash_settlement_{mode}")) for mode in SETTLEMENT_MODES]


class SignInForm(DashboardForm):
    email = StringField("dash_email", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("dash_field_password", validators=[InputRequired(), Length(max=256)])


class SignUpForm(SignInForm):
    pass


class PasswordForm(DashboardForm):
    current_password = PasswordField("dash_field_current_password", validators=[InputRequired(), Length(max=256)])
    new_password = PasswordField("dash_field_new_password", validators=[InputRequired(), Length(max=256)])


class EmailForm(DashboardForm):
    email = StringField("dash_email", validators=[InputRequired(), Length(max=320)])


class NewPasswordForm(DashboardForm):
    new_password = PasswordField("dash_field_new_password", validators=[InputRequired(), Length(max=256)])


class CodeForm(DashboardForm):
    code = StringField("dash_field_code", validators=[InputRequired(), Length(max=32)])


class DisableTwoFactorForm(DashboardForm):
    password = PasswordField("dash_field_password", validators=[InputRequired(), Length(max=256)])
    code = StringField("dash_field_code", validators=[InputRequired(), Length(max=32)])


class StoreForm(DashboardForm):
    name = StringField("dash_field_name", validators=[InputRequired(), Length(max=200)])
    network = SelectField("dash_network", choices=list(NETWORKS))
    wallet_sol = StringField("dash_field_wallet_sol", validators=[Optional(), Length(max=128)])
    wallet_usdc = StringField("dash_field_wallet_usdc", validators=[Optional(), Length(max=128)])
    wallet_usdt = StringField("dash_field_wallet_usdt", validators=[Optional(), Length(max=128)])
    settlement_mode = SelectField("dash_field_settlement", choices=_settlement_modes)
    tron_xpub = StringField("dash_field_tron_xpub", validators=[Optional(), Length(max=128)])
    language = SelectField("dash_field_language", default=DEFAULT_LANGUAGE,
                           choices=lambda: languages())

    def wallets(self) -> dict[str, str]:
        """The addresses given, by asset (checked by the core's store creation)."""
        given = {"SOL": self.wallet_sol.data, "USDC": self.wallet_usdc.data, "USDT": self.wallet_usdt.data}
        return {asset: address.strip() for asset, address in given.items() if address and address.strip()}


class StoreEditForm(DashboardForm):
    """Every field optional: the page shows the current values; owners see the wallet fields too."""

    name = StringField("dash_field_name", validators=[InputRequired(), Length(max=200)])
    platform_fee_percent = StringField("dash_field_fee", validators=[InputRequired(), Length(max=12)])
    underpayment_tolerance_percent = StringField("dash_field_tolerance", validators=[InputRequired(), Length(max=12)])
    default_expiry_hours = StringField("dash_field_expiry", validators=[InputRequired(), Length(max=6)])
    # Absent from a post: left as it is (the choice is checked again by the core's store update).
    language = SelectField("dash_field_language", choices=lambda: languages(), validators=[Optional()])
    settlement_mode = SelectField("dash_field_settlement", choices=_settlement_modes, validators=[Optional()])
    wallet_sol = StringField("dash_field_wallet_sol", validators=[Optional(), Length(max=128)])
    wallet_usdc = StringField("dash_field_wallet_usdc", validators=[Optional(), Length(max=128)])
    wallet_usdt = StringField("dash_field_wallet_usdt", validators=[Optional(), Length(max=128)])
    tron_xpub = StringField("dash_field_tron_xpub_edit", validators=[Optional(), Length(max=128)])

    def wallets(self) -> dict[str, str]:
        given = {"SOL": self.wallet_sol.data, "USDC": self.wallet_usdc.data, "USDT": self.wallet_usdt.data}
        return {asset: address.strip() for asset, address in given.items() if address and address.strip()}


class MemberForm(DashboardForm):
    email = StringField("dash_email", validators=[InputRequired(), Length(max=320)])
    role = SelectField("dash_role", choices=_roles)


class KeyForm(DashboardForm):
    kind = SelectField("dash_contract", choices=list(KEY_KINDS))


def first_error(form: FlaskForm) -> str:
    """The first field error, as one line: the field's label, then its message."""
    for name, messages in form.errors.items():
        field = form._fields.get(name)
        return f"{t(field.label.text) if field is not None else name}: {messages[0]}"
    return t("dash_invalid_form")
