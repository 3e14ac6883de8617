"""The Solana client and treasury, built from settings (one rate-limited endpoint per network)."""

from __future__ import annotations

from gateway_core.adapters.chains.solana import SolanaChain
from gateway_core.adapters.chains.solana_keys import GatewayKeys, seed_bytes
from gateway_core.adapters.chains.solana_push import SolanaPush, ws_url
from gateway_core.adapters.chains.solana_rpc import RateLimiter, SolanaLoop, SolanaRpc
from gateway_core.config import Settings

NETWORKS = ("devnet", "mainnet")


def solana_chain_from_settings(settings: Settings) -> SolanaChain:
    """Devnet and mainnet endpoints from SOLANA_RPC_URL_*, each with its own request-rate limit."""
    urls = {"devnet": settings.solana_rpc_url_devnet, "mainnet": settings.solana_rpc_url_mainnet}
    loop = SolanaLoop()  # one event loop for every endpoint's requests and subscriptions
    rpcs = {
        network: SolanaRpc(url, loop=loop,
                           limiter=RateLimiter(settings.solana_rpc_rate_limit, settings.solana_rpc_rate_period),
                           timeout=settings.solana_rpc_timeout, retries=settings.solana_rpc_retries,
                           backoff=settings.solana_rpc_backoff)
        for network, url in urls.items()
    }
    mints = {"devnet": settings.usdc_mint_devnet, "mainnet": settings.usdc_mint_mainnet}
    push = None
    if settings.solana_push:
        ws = {"devnet": settings.solana_ws_url_devnet or ws_url(urls["devnet"]),
              "mainnet": settings.solana_ws_url_mainnet or ws_url(urls["mainnet"])}
        # Built here, opened by the worker (SolanaPush.start): a web process never holds sockets.
        push = SolanaPush(ws, loop, settings.solana_ws_max_subscriptions)
    return SolanaChain(rpcs, mints, outage_backoff=max(settings.solana_rpc_backoff, 0.0) * 4, push=push)


def gateway_keys_from_settings(settings: Settings) -> GatewayKeys:
    """The fee payer and deposit keys from GATEWAY_SEED (or the seed generated into the instance folder)."""
    return GatewayKeys(seed_bytes(settings.gateway_seed))
