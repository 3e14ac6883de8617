"""One headless Chromium per test process (each xdist worker), shared by every browser test: launching it is
the costly part, so each test opens its own context or page on it and closes them itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_checkout_browser import CHROMIUM, LAUNCH_ARGS


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()
