"""A TLS terminator on 127.0.0.1 that demands a client certificate, as nginx does with `ssl_verify_client on`.

It stands in front of a real WSGI server running the app: a client whose certificate the trusted CA signed
gets through, with the verified subject (RFC 4514, like nginx's $ssl_client_s_dn) in a header the terminator
always overwrites; a client without one, or with another CA's, fails the TLS handshake and never reaches the app.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme
from cryptography import x509
from werkzeug.serving import make_server


class _Backend:
    """The app on a plain-HTTP WSGI server on 127.0.0.1 (gunicorn's place behind the proxy)."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class MutualTlsProxy:
    """`with MutualTlsProxy(app, server_ca, client_ca) as proxy:` then connect to proxy.port over TLS."""

    def __init__(self, app: Any, server_ca: trustme.CA, client_ca: trustme.CA,
                 header: str = "X-Client-Cert-Subject") -> None:
        self.backend = _Backend(app)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ca.issue_cert("127.0.0.1").configure_cert(context)
        context.verify_mode = ssl.CERT_REQUIRED  # ssl_verify_client on
        client_ca.configure_trust(context)  # ssl_client_certificate: Shopify's CA
        backend_port = self.backend.port

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                der = self.connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
                subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in (header.lower(), "connection")}
                headers[header] = subject  # proxy_set_header: whatever the client sent is replaced
                upstream = http.client.HTTPConnection("127.0.0.1", backend_port, timeout=10)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for name, value in answer.getheaders():
                        if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()
                self.close_connection = True

            do_GET = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MutualTlsProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.backend.stop()
