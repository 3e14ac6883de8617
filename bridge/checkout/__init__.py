"""The buyer's side: the hosted payment page, its public status (JSON and server-sent events), the asset
choice, the return to the store, and the sandbox's simulate control.

Public and unauthenticated: the unguessable invoice number is the only key, so every response here is
display-safe (no buyer data, no store settings) and the polling endpoints are rate limited per client.

Split by what the routes serve (pages, status, actions) on one blueprint, `bp`: importing this package
attaches every route to it.
"""

from bridge.checkout import actions, pages, status
from bridge.checkout.common import bp, render_problem

__all__ = ["actions", "bp", "pages", "render_problem", "status"]
