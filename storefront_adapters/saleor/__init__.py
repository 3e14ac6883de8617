"""The Saleor payment app (DESIGN.md §9): manifest, token registration, JWS-verified sync webhooks, and
transactionEventReport through the outbox.

consts (events, queries), manifest, installations (consent, registration, signatures), jws, client (calls to
Saleor), adapter (transactions <-> invoices), transactions (webhook handlers), channel (the outbox channel).
"""
