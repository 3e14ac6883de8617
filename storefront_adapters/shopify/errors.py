"""What the Shopify endpoints can refuse with, each with a stable code and its HTTP status."""

from __future__ import annotations

from gateway_core.domain.errors import GatewayError


class ShopifyError(GatewayError):
    status = 400


class InvalidSignature(ShopifyError):
    code, status = "INVALID_HMAC", 401


class ClientCertificateRequired(ShopifyError):
    code, status = "CLIENT_CERTIFICATE_REQUIRED", 403


class ShopNotAllowed(ShopifyError):
    code, status = "SHOP_NOT_ALLOWED", 403


class ShopNotInstalled(ShopifyError):
    code, status = "SHOP_NOT_INSTALLED", 403


class OAuthStateMismatch(ShopifyError):
    code, status = "INVALID_STATE", 403


class TokenExchangeFailed(ShopifyError):
    code, status = "TOKEN_EXCHANGE_FAILED", 502


class PaymentRefused(ShopifyError):
    """A payment session we will not take; Shopify is also told, through paymentSessionReject."""

    code, status = "PAYMENT_REFUSED", 422


class PaymentNotFound(ShopifyError):
    code, status = "PAYMENT_NOT_FOUND", 404


class SessionConflict(ShopifyError):
    code, status = "SESSION_CONFLICT", 409


class AppNotConfigured(ShopifyError):
    code, status = "APP_NOT_CONFIGURED", 503


class ScopesMissing(ShopifyError):
    code, status = "SCOPES_MISSING", 403
