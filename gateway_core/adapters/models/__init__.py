"""The tables of the payment domain, one module per feature; every name is importable from here.

Importing this package imports every module, so `Base.metadata` (Alembic, `create_all`) holds every table.
"""

from gateway_core.adapters.models.accounts import (
    RecoveryCode,
    StoreMember,
    User,
    UserSession,
)
from gateway_core.adapters.models.base import (
    NAMING,
    Base,
    DecimalText,
    ExactJSON,
    UtcDateTime,
    utcnow,
)
from gateway_core.adapters.models.chains import (
    ChainCursor,
    SandboxTransfer,
    SolanaDeposit,
    SolanaSweep,
)
from gateway_core.adapters.models.contracts import (
    VeltpayOrder,
    VeltpaySignature,
    VirtexgateIdempotencyKey,
)
from gateway_core.adapters.models.invoices import (
    INVOICE_EMAIL_KEY,
    INVOICE_LISTED_ASSET,
    Event,
    Invoice,
    InvoiceDecision,
    Payment,
    PaymentAttachment,
    Quote,
)
from gateway_core.adapters.models.notifications import (
    ContractWebhook,
    Delivery,
    DeliveryAttempt,
    Email,
    WebhookEndpoint,
)
from gateway_core.adapters.models.storefronts import (
    PlatformInstallation,
    PlatformOrder,
)
from gateway_core.adapters.models.stores import (
    ApiKey,
    Store,
    StoreLogo,
    StoreWallet,
)
from gateway_core.adapters.models.worker_state import (
    ParkedItem,
    WorkerMetric,
)

__all__ = [
    "INVOICE_EMAIL_KEY",
    "INVOICE_LISTED_ASSET",
    "NAMING",
    "ApiKey",
    "Base",
    "ChainCursor",
    "ContractWebhook",
    "DecimalText",
    "Delivery",
    "DeliveryAttempt",
    "Email",
    "Event",
    "ExactJSON",
    "Invoice",
    "InvoiceDecision",
    "ParkedItem",
    "Payment",
    "PaymentAttachment",
    "PlatformInstallation",
    "PlatformOrder",
    "Quote",
    "RecoveryCode",
    "SandboxTransfer",
    "SolanaDeposit",
    "SolanaSweep",
    "Store",
    "StoreLogo",
    "StoreMember",
    "StoreWallet",
    "User",
    "UserSession",
    "UtcDateTime",
    "VeltpayOrder",
    "VeltpaySignature",
    "VirtexgateIdempotencyKey",
    "WebhookEndpoint",
    "WorkerMetric",
    "utcnow",
]
