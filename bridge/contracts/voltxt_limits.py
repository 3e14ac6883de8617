"""VOLTXT's request budget per API key, on every endpoint that takes a VOLTXT key (plugin, notification and
dynamic-payment): VOLTXT_RATE_LIMIT_PER_MINUTE (600) unless the key has its own (`voltbridge key limit
<store> --kind voltxt`), counted as VirtexGate's and VentaConnect's are (bridge/key_ratelimit.py: in this
process, or in Redis when REDIS_URL is set). Over it: 429 RATE_LIMITED in VOLTXT's format, with Retry-After.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g

from bridge.contracts.voltxt_wire import api_key, render_error
from bridge.errors import Problem
from bridge.extensions import services
from bridge.key_ratelimit import KeyLimiter, RateLimited, key_limiter
from gateway_core.adapters.db import UnitOfWork
from gateway_core.adapters.models import Store
from gateway_core.keys.api_keys import bucket_name, digest_of, valid_key

KIND = "voltxt"
_LIMITER = "voltbridge.voltxt_limiter"


def install(app: Flask) -> None:
    """One counter store per app, shared by the VOLTXT blueprints."""
    if _LIMITER not in app.extensions:
        app.extensions[_LIMITER] = key_limiter(services(app).settings.redis_url)


def answer_in_voltxt_format(bp: Blueprint) -> None:
    """The blueprint's 429s in VOLTXT's error format, with Retry-After."""
    bp.register_error_handler(RateLimited, _too_many)


def within_budget(digest: str, per_minute: int | None) -> None:
    """Count this request against the key (its lookup digest); RateLimited once it is over its budget."""
    svc = services()
    limiter: KeyLimiter = current_app.extensions[_LIMITER]
    verdict = limiter.hit(bucket_name(KIND, digest), per_minute or svc.settings.voltxt_rate_limit_per_minute,
                          svc.clock.now().timestamp())
    if not verdict.allowed:
        raise RateLimited(verdict)


def voltxt_store(uow: UnitOfWork, body: dict[str, object]) -> Store:
    """The store of the request's VOLTXT key, once the key is valid and within its budget."""
    digest = digest_of(api_key(body), KIND)
    key = valid_key(uow, digest, services().clock, KIND)
    within_budget(digest, key.per_minute)
    return key.store


def _too_many(exc: RateLimited) -> Response:
    verdict = exc.verdict
    message = (f"Too many requests: {verdict.limit} per minute for this API key; "
               f"retry after {verdict.reset_after} s")
    response = render_error(Problem(429, "RATE_LIMITED", message), g.get("request_id", "-"))
    response.headers["Retry-After"] = str(verdict.reset_after)
    return response
