"""Access logs that never carry API keys (VOLTXT GET requests put the key in the query string)."""

from __future__ import annotations

import re

from werkzeug.serving import WSGIRequestHandler

_SECRET_PARAMS = re.compile(r"((?:^|[?&])(?:api_key|key|token|secret)=)[^&\s]*", re.IGNORECASE)


def redact(target: str) -> str:
    """'/x?api_key=abc&n=1' -> '/x?api_key=[redacted]&n=1'."""
    return _SECRET_PARAMS.sub(r"\1[redacted]", target)


class RedactingRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.requestline = redact(self.requestline)
        if hasattr(self, "path"):  # Werkzeug 2.1+ formats the access line from self.path
            self.path = redact(self.path)
        super().log_request(code, size)
