"""Domain errors, each with the stable code every contract translates into its own error format."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error a caller of the core can be told about."""

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


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
