"""Store API keys: issuing, checking, rotating, per-key limits, and VeltPay request signatures."""
