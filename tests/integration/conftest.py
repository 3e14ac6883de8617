"""Fixtures shared by the integration tests beyond tests/conftest.py: the Solana cluster fake and its wiring."""

from tests.solana_fixtures import buyer, fake_rpc, fee_payer, sol, sol_client, sol_settings  # noqa: F401
