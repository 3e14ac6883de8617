"""The dashboard's forms (Flask-WTF: each carries its CSRF token). Rules on values live in the core."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from bridge.i18n import languages
from gateway_core.accounts.members import ROLES
from gateway_core.adapters.i18n import DEFAULT as DEFAULT_LANGUAGE
from gateway_core.keys.api_keys import KEY_KINDS
from gateway_core.stores.manage import NETWORKS, SETTLEMENT_MODES


class SignInForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256)])


class SignUpForm(SignInForm):
    pass


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[InputRequired(), Length(max=256)])
    new_password = PasswordField("New password", validators=[InputRequired(), Length(max=256)])


class EmailForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=320)])


class NewPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[InputRequired(), Length(max=256)])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[InputRequired(), Length(max=32)])


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256)])
    code = StringField("Code", validators=[InputRequired(), Length(max=32)])


class StoreForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    network = SelectField("Network", choices=list(NETWORKS))
    wallet_sol = StringField("SOL wallet", validators=[Optional(), Length(max=128)])
    wallet_usdc = StringField("USDC wallet", validators=[Optional(), Length(max=128)])
    wallet_usdt = StringField("USDT wallet (TRON)", validators=[Optional(), Length(max=128)])
    settlement_mode = SelectField("Settlement", choices=list(SETTLEMENT_MODES))
    tron_xpub = StringField("TRON account xpub (optional: a fresh USDT address per invoice)",
                            validators=[Optional(), Length(max=128)])
    language = SelectField("Language of the store's emails", default=DEFAULT_LANGUAGE,
                           choices=lambda: languages())

    def wallets(self) -> dict[str, str]:
        """The addresses given, by asset (checked by the core's store creation)."""
        given = {"SOL": self.wallet_sol.data, "USDC": self.wallet_usdc.data, "USDT": self.wallet_usdt.data}
        return {asset: address.strip() for asset, address in given.items() if address and address.strip()}


class StoreEditForm(FlaskForm):
    """Every field optional: the page shows the current values; owners see the wallet fields too."""

    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    platform_fee_percent = StringField("Fee (%)", validators=[InputRequired(), Length(max=12)])
    underpayment_tolerance_percent = StringField("Underpayment tolerance (%)",
                                                 validators=[InputRequired(), Length(max=12)])
    default_expiry_hours = StringField("Default expiry (hours)", validators=[InputRequired(), Length(max=6)])
    settlement_mode = SelectField("Settlement", choices=list(SETTLEMENT_MODES), validators=[Optional()])
    wallet_sol = StringField("SOL wallet", validators=[Optional(), Length(max=128)])
    wallet_usdc = StringField("USDC wallet", validators=[Optional(), Length(max=128)])
    wallet_usdt = StringField("USDT wallet (TRON)", validators=[Optional(), Length(max=128)])
    tron_xpub = StringField("TRON account xpub (empty: none)", validators=[Optional(), Length(max=128)])

    def wallets(self) -> dict[str, str]:
        given = {"SOL": self.wallet_sol.data, "USDC": self.wallet_usdc.data, "USDT": self.wallet_usdt.data}
        return {asset: address.strip() for asset, address in given.items() if address and address.strip()}


class MemberForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=320)])
    role = SelectField("Role", choices=list(ROLES))


class KeyForm(FlaskForm):
    kind = SelectField("Contract", choices=list(KEY_KINDS))


def first_error(form: FlaskForm) -> str:
    """The first field error, as one line."""
    for name, messages in form.errors.items():
        return f"{name}: {messages[0]}"
    return "Invalid form"
