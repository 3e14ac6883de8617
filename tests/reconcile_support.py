"""The chain tests' last word: reconciliation finds no difference between the chain and the records."""

from __future__ import annotations

from gateway_core.bootstrap import Services
from gateway_core.payments.reconcile import AccountCheck, reconcile


def assert_reconciled(svc: Services) -> list[AccountCheck]:
    """Reconcile every watched account; fail on any difference or unreadable account."""
    checks = reconcile(svc.uow, svc.chains, svc.clock, svc.late_window)
    assert checks, "no account was reconciled"
    assert all(check.ok for check in checks), [c for c in checks if not c.ok]
    return checks
