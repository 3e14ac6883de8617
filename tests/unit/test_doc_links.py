"""README.md and docs/ are what a user's clone has (issue 23 point 8): every link resolves inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold examples, not links
    return LINK.findall(text)


def test_the_front_page_is_short_and_points_into_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 60
    targets = set(_links(ROOT / "README.md"))
    for page in ("configuration.md", "going-live.md", "operations.md", "contracts/voltxt.md", "contracts/veltpay.md",
                 "contracts/virtexgate.md", "contracts/venta.md", "storefronts/woocommerce.md",
                 "storefronts/saleor.md", "storefronts/shopify.md"):
        assert f"docs/{page}" in targets, page


def test_every_relative_link_resolves_and_none_leaves_the_repository() -> None:
    checked = 0
    for page in PAGES:
        text = page.read_text()
        assert "../shared" not in text and "shared/specs" not in text, f"{page}: points at files a clone lacks"
        for target in _links(page):
            assert not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I), f"{page}: {target} leaves the repository"
            path = target.split("#", 1)[0]
            if not path:
                continue
            resolved = (page.parent / path).resolve()
            assert resolved.is_relative_to(ROOT), f"{page}: {target} leaves the repository"
            assert resolved.exists(), f"{page}: {target} does not resolve"
            checked += 1
    assert checked >= 10
