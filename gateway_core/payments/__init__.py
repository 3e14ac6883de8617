"""Payments: watching chains, recording transfers, assessing invoices, expiry, deposits and sweeps."""
