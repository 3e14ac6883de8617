"""Domain errors, each with the stable code every contract translates into its own error format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Said:
    """A sentence of an error (its message or a field's detail) by a stable key and its parameters.

    The APIs and the CLI send `text`, the English they have always sent (contract tests pin those bytes); the
    dashboard says `key` with `params` in the visitor's language (locale key dash_core_<key>), so rewording the
    English never turns a page English again.
    """

    key: str
    text: str
    params: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


def said(key: str, text: str, **params: object) -> Said:
    """The keyed sentence; keys are literal at the call so a test can find every one the core raises."""
    return Said(key, text, params)


class GatewayError(Exception):
    """Base of every error a caller of the core can be told about.

    `message` and `errors` are plain English (what every contract sends); `said` and `details` keep the key of
    the message and of each field's detail when the raiser gave one (a Said instead of a str).
    """

    code = "INTERNAL_ERROR"

    def __init__(self, message: str | Said, *, errors: Mapping[str, str | Said] | None = None) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.said = message if isinstance(message, Said) else None
        self.errors = {name: str(detail) for name, detail in (errors or {}).items()}
        self.details = {name: detail for name, detail in (errors or {}).items() if isinstance(detail, Said)}


class InvalidApiKey(GatewayError):
    code = "INVALID_API_KEY"


class ValidationFailed(GatewayError):
    code = "VALIDATION_ERROR"


class DuplicateExternalId(GatewayError):
    code = "DUPLICATE_EXTERNAL_ID"


class InvoiceNotFound(GatewayError):
    code = "INVOICE_NOT_FOUND"


class NoDestinationWallet(GatewayError):
    code = "NO_DESTINATION_WALLET"


class NetworkMismatch(GatewayError):
    code = "NETWORK_MISMATCH"


class AmountTooLow(GatewayError):
    code = "AMOUNT_TOO_LOW"


class AmountTooHigh(GatewayError):
    code = "AMOUNT_TOO_HIGH"


class InvalidState(GatewayError):
    """The invoice's status does not allow the request (e.g. cancelling a paid invoice)."""

    code = "INVALID_INVOICE_STATE"


class ExpiredInvoice(InvalidState):
    code = "EXPIRED_INVOICE"


class StoreNotFound(GatewayError):
    code = "STORE_NOT_FOUND"


class RateUnavailable(GatewayError):
    """No rate fresh enough to price with right now (sources down, slow or disagreeing): try again later."""

    code = "RATE_UNAVAILABLE"


class UnknownPair(RateUnavailable):
    """A pair no source prices at all (an asset or currency we do not quote): the request, not the moment."""


class WebhookNotConfigured(GatewayError):
    code = "WEBHOOK_NOT_CONFIGURED"


class EmailNotEnabled(GatewayError):
    code = "EMAIL_NOT_ENABLED"


class DeliveryNotFound(GatewayError):
    code = "DELIVERY_NOT_FOUND"


class PaymentNotFound(GatewayError):
    code = "PAYMENT_NOT_FOUND"


class VaultInitializationFailed(GatewayError):
    """The deposit's on-chain account could not be created (e.g. the fee payer cannot pay the rent)."""

    code = "VAULT_INITIALIZATION_FAILED"
