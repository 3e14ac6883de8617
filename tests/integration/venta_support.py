"""Helpers for the VentaConnect tests: a key, a POS client as the documentation describes it, a live server.

`decode_uri_component` follows JavaScript's decodeURIComponent (ECMA-262 Decode): it throws on a malformed
escape or invalid UTF-8, and, to prove the link is "already encodeURIComponent-encoded", `strictly_encoded`
checks that nothing outside encodeURIComponent's unescaped set is left in the clear.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from gateway_core.bootstrap import Services
from gateway_core.clock import FrozenClock
from gateway_core.config import Settings
from gateway_core.keys.api_keys import issue_key
from tests.conftest import running_app

CHECKOUT = "/v1/checkout"
DEV_CHECKOUT = "/v1/dev/checkout/session"
# ECMA-262: encodeURIComponent leaves A-Z a-z 0-9 and - _ . ! ~ * ' ( ) as they are, and escapes all else.
_ENCODED = re.compile(r"^(?:[A-Za-z0-9\-_.!~*'()]|%[0-9A-F]{2})*$")


def strictly_encoded(text: str) -> bool:
    return bool(_ENCODED.match(text))


def decode_uri_component(text: str) -> str:
    raw = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
                raise ValueError(f"URIError: malformed escape at {i}")
            raw.append(int(pair, 16))
            i += 3
        else:
            raw.extend(text[i].encode("utf-8"))
            i += 1
    return raw.decode("utf-8")  # invalid UTF-8 is a URIError in JavaScript too


def venta_key(services: Services, store_id: int) -> str:
    with services.uow() as uow:
        return issue_key(uow, services.vault, store_id, "venta").api_key


def post(client: Any, path: str, key: str | None, body: Any) -> Any:
    from bridge.jsonio import dumps

    headers = {"x-api-key": key} if key is not None else {}
    return client.post(path, data=dumps(body), content_type="application/json", headers=headers)


def get(client: Any, path: str, key: str | None) -> Any:
    return client.get(path, headers={"x-api-key": key} if key is not None else {})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveGateway:
    base: str
    app: Any


@contextmanager
def live_gateway(database_url: str, tmp_path: Path, clock: FrozenClock, **overrides: Any) -> Iterator[LiveGateway]:
    """The app served by Werkzeug's threaded server on 127.0.0.1 (as `voltbridge run` serves it)."""
    port = free_port()
    settings = Settings.from_env(
        {}, instance_path=str(tmp_path / "instance"), database_url=database_url, secret_key="test-secret-key",
        public_url=f"http://127.0.0.1:{port}", sandbox_finality_seconds=0.0, rate_sources=("fixed",), **overrides,
    )
    with running_app(settings, clock) as app:
        app.config["VENTA_POLL_SECONDS"] = 0.05
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield LiveGateway(f"http://127.0.0.1:{port}", app)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
