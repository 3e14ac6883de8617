"""One headless Chromium per test process (each xdist worker), shared by every browser test: launching it is
the costly part, so each test opens its own context or page on it and closes them itself.

`page_gateway` is one gateway per test module on SQLite, for the payment page's own tests: what they check
(layout, accessibility, keyboard, print, languages) is the page, the same whatever the database; the database
side of each state is covered on both databases by the integration tests and by test_checkout_browser's buyer
flow. Tests sharing it make their own invoices and never depend on another test's."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.checkout_states import CHROMIUM, LAUNCH_ARGS, Gateway, serve


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page_gateway(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    where = tmp_path_factory.mktemp("page-gateway")
    shutil.copy(sqlite_template, where / "voltbridge.db")
    yield from serve(f"sqlite:///{where / 'voltbridge.db'}", where)
