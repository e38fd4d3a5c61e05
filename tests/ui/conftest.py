"""Fixtures of the web UI tests: the running world, and Debian's Chromium under Playwright.

The browser is `/usr/bin/chromium` from Debian (`make test` installs it); Playwright only
drives it and never downloads a browser of its own. One browser serves the session; each
test gets fresh contexts (no cookies shared between tests). Every page a test opens is
watched for console errors (a script error or a Content-Security-Policy violation fails
the test).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from ui_browser import Pages
from ui_world import start_world

from databases import sqlite_url

CHROMIUM = Path("/usr/bin/chromium")
# As this machine's notes say: headless, no sandbox as root, and no calls home (the
# closed network refuses them).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
# A generous bound for one condition on a busy 2-core machine; waits end as soon as it holds.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def world(tmp_path, templates):
    """The app on a real server with the fake Jenkins and the engine, on SQLite."""
    world, closers = start_world(tmp_path, templates, sqlite_url(tmp_path))
    yield world
    for close in closers:
        close()


@pytest.fixture
def pages(browser, world):
    """Browser pages on the world; fails the test on any console error."""
    opened = Pages(browser, world)
    yield opened
    opened.close()
    assert not opened.console_errors
