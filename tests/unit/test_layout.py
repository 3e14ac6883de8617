"""The repository layout of DESIGN.md §2, and the core's independence from the web layer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("flask", "flask_sqlalchemy", "werkzeug", "bridge", "storefront_adapters")


def test_layout_has_every_part_of_the_design() -> None:
    for name in ("bridge", "gateway_core", "storefront_adapters", "templates", "migrations", "tests", "bench",
                 "setup.cfg", "pyproject.toml", "Makefile", "Dockerfile", "README.md", ".ci/run"):
        assert (ROOT / name).exists(), name
    assert (ROOT / "storefront_adapters" / "base.py").exists()


def test_importing_the_whole_core_loads_no_web_module() -> None:
    code = (
        "import sys, pkgutil, importlib, gateway_core\n"
        "for m in pkgutil.walk_packages(gateway_core.__path__, 'gateway_core.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_no_module_of_the_project_imports_itself_back() -> None:
    """No import cycle, however long, among the project's modules (imports inside functions count too):
    import-linter's layers keep the direction between layers, this keeps it inside each one."""
    import grimp

    graph = grimp.build_graph("gateway_core", "bridge", "storefront_adapters", cache_dir=None)
    cycles = [sorted(group) for group in _strongly_connected(graph) if len(group) > 1]
    assert cycles == []


def _strongly_connected(graph: Any) -> list[set[str]]:
    """Tarjan's strongly connected components of the import graph, without recursion."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == module:
                        break
                groups.append(group)
    return groups


def test_every_part_of_the_core_has_its_layer() -> None:
    """A new module or package at gateway_core's top level must be placed in the layers contract (or lint-imports
    would never look at it)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in config if c["type"] == "layers" and c["layers"][0].startswith("gateway_core."))
    placed = {part.strip().removeprefix("gateway_core.") for layer in layers for part in re.split("[|:]", layer)}
    parts = {p.stem for p in (ROOT / "gateway_core").glob("*.py") if p.stem != "__init__"}
    parts |= {p.parent.name for p in (ROOT / "gateway_core").glob("*/__init__.py")}
    assert parts - placed == set()
