"""The repository layout of DESIGN.md §2, and the core's independence from the web layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("flask", "flask_sqlalchemy", "werkzeug", "bridge", "storefront_adapters")


def test_layout_has_every_part_of_the_design() -> None:
    for name in ("bridge", "gateway_core", "storefront_adapters", "templates", "migrations", "tests", "bench",
                 "setup.cfg", "pyproject.toml", "Makefile", "Dockerfile", "README.md", ".ci/run"):
        assert (ROOT / name).exists(), name
    assert (ROOT / "storefront_adapters" / "base.py").exists()


def test_gateway_core_imports_nothing_from_the_web_layer() -> None:
    offenders = []
    for path in (ROOT / "gateway_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_whole_core_loads_no_web_module() -> None:
    code = (
        "import sys, pkgutil, importlib, gateway_core\n"
        "for m in pkgutil.walk_packages(gateway_core.__path__, 'gateway_core.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
