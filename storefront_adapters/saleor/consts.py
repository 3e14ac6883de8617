"""What the Saleor app declares and asks: its events, subscription queries and GraphQL operations.

The subscription queries are the webhook payloads: Saleor sends the `event` object of each one, and the
handlers read only the fields selected here (the tests build payloads by running these very queries).
"""

from __future__ import annotations

PLATFORM = "saleor"
APP_ID = "io.voltbridge.saleor"
APP_NAME = "voltbridge crypto payments"
PERMISSIONS = ("HANDLE_PAYMENTS",)
# The transaction webhooks this app uses arrived in Saleor 3.13.
REQUIRED_SALEOR_VERSION = ">=3.13"

# The canonical invoice events reported back to Saleor with transactionEventReport (channel "saleor").
# (invoice.created is reported too, by the initialize handler: the INFO that offers Cancel.)
REPORTED_EVENTS = ("invoice.partially_paid", "invoice.paid", "invoice.payment_dropped", "invoice.confirmed",
                   "invoice.expired", "invoice.underpaid", "invoice.cancelled")

_SOURCE_OBJECT = """sourceObject {
        __typename
        ... on Checkout { id email channel { slug } }
        ... on Order { id number userEmail channel { slug } }
      }"""

PAYMENT_GATEWAY_INITIALIZE_SESSION = f"""subscription PaymentGatewayInitializeSession {{
  event {{
    ... on PaymentGatewayInitializeSession {{
      issuedAt
      amount
      data
      {_SOURCE_OBJECT}
    }}
  }}
}}"""

TRANSACTION_INITIALIZE_SESSION = f"""subscription TransactionInitializeSession {{
  event {{
    ... on TransactionInitializeSession {{
      issuedAt
      idempotencyKey
      merchantReference
      data
      action {{ amount currency actionType }}
      transaction {{ id pspReference }}
      {_SOURCE_OBJECT}
    }}
  }}
}}"""

TRANSACTION_PROCESS_SESSION = f"""subscription TransactionProcessSession {{
  event {{
    ... on TransactionProcessSession {{
      issuedAt
      merchantReference
      data
      action {{ amount currency actionType }}
      transaction {{ id pspReference }}
      {_SOURCE_OBJECT}
    }}
  }}
}}"""

TRANSACTION_CANCELATION_REQUESTED = """subscription TransactionCancelationRequested {
  event {
    ... on TransactionCancelationRequested {
      issuedAt
      action { actionType amount currency }
      transaction { id pspReference }
    }
  }
}"""

# Saleor's event name -> (the path segment of our webhook URL, its subscription query).
SYNC_WEBHOOKS: dict[str, tuple[str, str]] = {
    "PAYMENT_GATEWAY_INITIALIZE_SESSION": ("payment-gateway-initialize-session", PAYMENT_GATEWAY_INITIALIZE_SESSION),
    "TRANSACTION_INITIALIZE_SESSION": ("transaction-initialize-session", TRANSACTION_INITIALIZE_SESSION),
    "TRANSACTION_PROCESS_SESSION": ("transaction-process-session", TRANSACTION_PROCESS_SESSION),
    "TRANSACTION_CANCELATION_REQUESTED": ("transaction-cancelation-requested", TRANSACTION_CANCELATION_REQUESTED),
}
EVENT_FOR_SLUG = {slug: event for event, (slug, _) in SYNC_WEBHOOKS.items()}

APP_ID_QUERY = "query VoltbridgeAppId { app { id } }"

TRANSACTION_EVENT_REPORT = """mutation VoltbridgeTransactionEventReport(
  $id: ID!, $type: TransactionEventTypeEnum!, $amount: PositiveDecimal!, $pspReference: String!,
  $message: String, $externalUrl: String, $time: DateTime, $availableActions: [TransactionActionEnum!]
) {
  transactionEventReport(
    id: $id, type: $type, amount: $amount, pspReference: $pspReference, message: $message,
    externalUrl: $externalUrl, time: $time, availableActions: $availableActions
  ) {
    alreadyProcessed
    transaction { chargedAmount { amount } chargePendingAmount { amount } }
    transactionEvent { id type pspReference message }
    errors { field message code }
  }
}"""
