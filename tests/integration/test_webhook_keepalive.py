"""Issue 4 point 10: GuardedHttp keeps connections alive per checked target, and the SSRF guard still decides
every request (a pooled connection is reused only for the address this request was checked to)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway_core.adapters.notify import webhooks
from gateway_core.adapters.notify.webhooks import MAX_RESPONSE_BYTES, GuardedHttp


class KeepAliveServer:
    """An HTTP/1.1 server on 127.0.0.1 that counts connections and requests; behaviour set per path."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.hung_up = threading.Event()  # set once the server has closed a connection it answered on
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server.lock:
                    server.connections += 1

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.lock:
                    server.requests.append(self.path)
                if self.path == "/slow":
                    time.sleep(1.0)
                body = b"x" * (2 * MAX_RESPONSE_BYTES) if self.path == "/huge" else b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if self.path == "/close":
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                # /hangup: the server drops the connection after answering, without saying so first.
                self.close_connection = self.path in ("/close", "/hangup")

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def shutdown_request(self, request: Any) -> None:
                super().shutdown_request(request)
                server.hung_up.set()

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[KeepAliveServer]:
    running = KeepAliveServer()
    thread = threading.Thread(target=running.httpd.serve_forever, daemon=True)
    thread.start()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def test_requests_to_one_endpoint_share_a_connection(server):
    transport = GuardedHttp(["127.0.0.1"])
    results = [transport.post(server.url("/hook"), b"{}", {}, timeout=5) for _ in range(5)]
    assert all(r.ok and r.body == b"ok" for r in results)
    assert server.requests == ["/hook"] * 5 and server.connections == 1


def test_a_connection_is_not_reused_unless_the_exchange_ended_cleanly(server):
    transport = GuardedHttp(["127.0.0.1"])
    for path in ("/close", "/huge", "/hook"):
        assert transport.post(server.url(path), b"{}", {}, timeout=5).ok
    # Connection: close, then an answer longer than we read: neither connection can carry another request.
    assert server.connections == 3
    timed_out = transport.post(server.url("/slow"), b"{}", {}, timeout=0.3)
    assert not timed_out.ok and timed_out.error == "timed out after 0.3s"
    assert transport.post(server.url("/hook"), b"{}", {}, timeout=5).ok
    assert server.connections == 4  # the parked /hook connection carried /slow and was closed at its timeout


def test_a_connection_the_server_dropped_is_replaced_and_the_request_sent_once(server):
    transport = GuardedHttp(["127.0.0.1"])
    assert transport.post(server.url("/hangup"), b"{}", {}, timeout=5).ok
    assert server.hung_up.wait(30)  # the server's FIN is on its way: the parked connection reads as ready
    assert transport.post(server.url("/hook"), b"{}", {}, timeout=5).ok
    assert server.requests == ["/hangup", "/hook"] and server.connections == 2


def test_a_dropped_connection_noticed_only_on_use_is_retried_on_a_new_one(server, monkeypatch):
    monkeypatch.setattr(webhooks, "_dropped", lambda conn: False)  # the server closes just after our check
    transport = GuardedHttp(["127.0.0.1"])
    assert transport.post(server.url("/hangup"), b"{}", {}, timeout=5).ok
    assert server.hung_up.wait(30)
    result = transport.post(server.url("/hook"), b"{}", {}, timeout=5)
    assert result.ok, result
    assert server.requests == ["/hangup", "/hook"] and server.connections == 2


def test_the_guard_checks_every_request_and_a_pooled_connection_only_serves_its_checked_address(server):
    answers = iter(["127.0.0.1", "127.0.0.1", "127.0.0.2", "10.0.0.7"])
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return [next(answers)]

    transport = GuardedHttp(["127.0.0.0/8"], resolver=resolver)
    url = f"http://hooks.example:{server.port}/hook"
    assert transport.post(url, b"{}", {}, timeout=5).ok
    assert transport.post(url, b"{}", {}, timeout=5).ok
    assert server.connections == 1
    # The name now resolves elsewhere (127.0.0.2: nothing listens there): the parked connection to 127.0.0.1
    # is not used for it, so the request fails instead of reaching the old address.
    moved = transport.post(url, b"{}", {}, timeout=5)
    assert not moved.ok and "ConnectionRefused" in (moved.error or "")
    refused = transport.post(url, b"{}", {}, timeout=5)  # and to a private address: refused before connecting
    assert not refused.ok and "refused by SSRF guard" in (refused.error or "")
    assert lookups == ["hooks.example"] * 4 and len(server.requests) == 2


def test_a_connection_idle_for_longer_than_servers_keep_them_is_not_reused(server, monkeypatch):
    monkeypatch.setattr(webhooks, "IDLE_SECONDS", 0.0)  # any pause is longer: no sleep needed to exceed it
    transport = GuardedHttp(["127.0.0.1"])
    assert transport.post(server.url("/hook"), b"{}", {}, timeout=5).ok
    assert transport.post(server.url("/hook"), b"{}", {}, timeout=5).ok
    assert server.connections == 2
