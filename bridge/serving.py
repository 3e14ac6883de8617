"""Access logs that never carry API keys (VOLTXT GET requests put the key in the query string)."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from werkzeug.serving import WSGIRequestHandler

# Parameter names whose values are secrets, compared once decoded and lower-cased: `api%5Fkey`, `API_KEY` and
# `api-key` all name the key (Werkzeug decodes the line it logs, so a raw-text match would miss them).
_SECRET_NAME = re.compile(r"^(?:api[_-]?key|key|token|secret|signature|password)$")


def redact(target: str) -> str:
    """'/x?api_key=abc&n=1' -> '/x?api_key=[redacted]&n=1', however the parameter name is spelled."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    params = []
    for param in query.split("&"):
        name = param.partition("=")[0]
        if _SECRET_NAME.match(unquote_plus(name).strip().lower()):
            param = f"{name}=[redacted]"
        params.append(param)
    return f"{path}?{'&'.join(params)}"


class RedactingRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.requestline = " ".join(redact(part) for part in self.requestline.split(" "))
        if hasattr(self, "path"):  # Werkzeug 2.1+ formats the access line from self.path
            self.path = redact(self.path)
        super().log_request(code, size)
