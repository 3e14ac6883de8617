"""Fixtures of the conformance suite: the notification tests' app and worker (webhooks to 127.0.0.1 allowed),
a receiver, a dispatcher, and the Solana cluster fake; every database fixture is parametrised on both databases."""

from tests.integration.notify_support import (  # noqa: F401 - fixtures
    dispatcher,
    napp,
    nclient,
    nsettings,
    nsvc,
    receiver,
    shop,
)
from tests.solana_fixtures import buyer, fake_rpc, sol, sol_client, sol_settings  # noqa: F401
