"""The image and the stack (issue 23 point 5): static checks, since the suite has no Docker daemon."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import bridge
import bridge.migrate
import bridge.openapi
import gateway_core.adapters.i18n
import gateway_core.adapters.notify.email_render
import storefront_adapters.woocommerce.package

ROOT = Path(__file__).resolve().parents[2]
# Every folder the app reads at run time, by the module constant that points at it. A new
# Path(__file__)-relative read in the packages must be added here (test_every_file_relative_read_is_listed).
RUNTIME_FOLDERS = {
    "bridge/__init__.py": [bridge.ROOT / "templates", bridge.ROOT / "static"],
    "bridge/migrate.py": [bridge.migrate.MIGRATIONS],
    "bridge/openapi.py": [bridge.openapi.DOCS],
    "gateway_core/adapters/i18n.py": [gateway_core.adapters.i18n.LOCALES],
    "gateway_core/adapters/notify/email_render.py": [gateway_core.adapters.notify.email_render.TEMPLATES],
    "storefront_adapters/woocommerce/package.py": [storefront_adapters.woocommerce.package.PLUGIN_DIR],
}


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _copied() -> set[str]:
    """Repository folders the Dockerfile copies into /app (COPY <src> ./<src>)."""
    copied = set()
    for line in _dockerfile().splitlines():
        match = re.match(r"COPY\s+(?!--)(.+)\s+(\S+)$", line.strip())
        if match:
            copied.update(src.rstrip("/") for src in match.group(1).split())
    return copied


def test_every_file_relative_read_is_listed() -> None:
    readers = {str(path.relative_to(ROOT)) for package in ("bridge", "gateway_core", "storefront_adapters")
               for path in (ROOT / package).rglob("*.py") if "__file__" in path.read_text()}
    assert readers == set(RUNTIME_FOLDERS)


def test_dockerfile_copies_every_runtime_folder() -> None:
    copied = _copied()
    for folders in RUNTIME_FOLDERS.values():
        for folder in folders:
            assert folder.is_dir(), folder
            relative = folder.relative_to(ROOT)
            assert any(relative == Path(src) or Path(src) in relative.parents for src in copied), (
                f"Dockerfile does not copy {relative}")
    assert {"setup.cfg", "pyproject.toml", "README.md"} <= copied  # what `pip install` reads


def test_dockerfile_runs_unprivileged_with_a_healthcheck_from_the_repo_alone() -> None:
    text = _dockerfile()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    for source in _copied():  # nothing from outside the build context
        assert not source.startswith(("..", "/")) and (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "instance", ".git", "**/__pycache__", ".pytest_cache", "tests/artifacts"} <= set(ignored)
    assert not set(_copied()) & set(ignored)


def test_compose_starts_the_whole_stack() -> None:
    stack = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = stack["services"]
    assert {"postgres", "redis", "db-upgrade", "web", "worker"} <= set(services)
    assert services["db-upgrade"]["command"] == ["voltbridge", "db", "upgrade"]
    assert services["worker"]["command"] == ["voltbridge", "worker"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["db-upgrade"]["condition"] == "service_completed_successfully"
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://")
        assert environment["REDIS_URL"].startswith("redis://")
    assert "docker compose up" in (ROOT / "README.md").read_text()
    assert "compose.yaml" in (ROOT / "docs" / "going-live.md").read_text()
