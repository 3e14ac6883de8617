"""The OpenAPI document of each contract we serve, from docs/openapi/<contract>.yaml (issue 8)."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort

bp = Blueprint("openapi", __name__)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "openapi"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@bp.get("/openapi/<name>.yaml")
def contract_document(name: str) -> Response:
    path = DOCS / f"{name}.yaml"
    if not _NAME.match(name) or not path.is_file():
        abort(404)
    return Response(path.read_bytes(), mimetype="application/yaml",
                    headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})
