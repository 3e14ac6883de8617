"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request, answers as told per path.

GET requests with ?challenge=<token> are answered with the token (a well-behaved store endpoint) unless
the path's behaviour says otherwise; `challenge_param` names the query parameter the endpoint reads.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # like a real server: bursts of concurrent deliveries are not refused
    daemon_threads = True


@dataclass
class Behaviour:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    hang: bool = False  # never answer (until the receiver stops)
    echo_challenge: bool = True
    challenge_param: str = "challenge"  # the Venmob document's handlers read venmob_challenge
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request was read

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def complete(self) -> bool:
        """The whole body arrived: a sender killed mid-request leaves a short one, which no real receiver would
        take (it is sent again, in full, after the sender's lease runs out)."""
        return len(self.body) == int(self.header("Content-Length") or 0)

    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal)


class Receiver:
    """`with Receiver() as r: r.url('/hook')`; r.received lists what arrived."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.scheme = "https" if tls else "http"
        self.received: list[Received] = []
        self.behaviours: dict[str, Behaviour] = {}
        self.default = Behaviour()
        self._lock = threading.Condition()  # notified on each request: wait_for waits on it, not on a timer
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                with receiver._lock:
                    receiver.received.append(Received(self.command, self.path, dict(self.headers.items()), body,
                                                      time.monotonic()))
                    behaviour = receiver.behaviours.get(path, receiver.default)
                    receiver._lock.notify_all()
                if behaviour.hang:
                    receiver._stopping.wait()
                    self.close_connection = True  # hang up: the client learns at once, not at its timeout
                    return
                if behaviour.delay:
                    receiver._stopping.wait(behaviour.delay)
                answer = behaviour.body
                challenge = parse_qs(urlsplit(self.path).query).get(behaviour.challenge_param)
                if self.command == "GET" and challenge and behaviour.echo_challenge:
                    answer = challenge[0].encode()
                try:
                    self.send_response(behaviour.status)
                    for name, value in behaviour.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass
                self.close_connection = True

            do_GET = do_POST = _handle

        self.server = _Server((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def on(self, path: str, **behaviour: Any) -> None:
        with self._lock:
            self.behaviours[path] = Behaviour(**behaviour)

    def posts(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == "POST" and (path is None or r.path == path)]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 30.0) -> list[Received]:
        """The POSTs once `count` have arrived; `timeout` only bounds a failing test (it measures nothing)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.posts(path)) >= count, timeout):
                raise AssertionError(f"expected {count} POSTs to {path or 'any path'}, got {len(self.posts(path))}")
            return self.posts(path)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
