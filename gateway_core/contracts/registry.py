"""The webhook format of each non-VOLTXT contract, by the contract's name (Invoice.contract)."""

from __future__ import annotations

from gateway_core.contracts.formats import ContractWebhookFormat
from gateway_core.contracts.veltpay_payloads import FORMAT as VELTPAY
from gateway_core.contracts.virtexgate_payloads import FORMAT as VIRTEXGATE


# One line per contract; each module defines FORMAT (kept explicit so the set of contracts is greppable).
def formats() -> dict[str, ContractWebhookFormat]:
    """Each contract's webhook format, by contract name."""
    return {"veltpay": VELTPAY, "virtexgate": VIRTEXGATE}
