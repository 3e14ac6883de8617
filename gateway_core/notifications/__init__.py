"""Notifications: the outbox rules, dispatch of webhooks and emails, the delivery log, store settings."""
