"""The system CA bundle's client TLS context, shared by the webhook and SMTP transports."""

from __future__ import annotations

import functools
import ssl


@functools.cache
def system_tls() -> ssl.SSLContext:
    """Loaded once per process (a fork inherits it): loading the bundle takes ~0.1 s, and a context that is never
    modified is safe to share between transports and threads."""
    return ssl.create_default_context()
