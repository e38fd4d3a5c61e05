"""Browser helpers of the web UI tests: pages per user, sign-in, axe-core, screenshots."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from playwright.sync_api import expect

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
AXE_URL = "/ui/static/test-only/axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class Pages:
    """Opens browser pages (each in a context of its own: its own cookies) and watches them."""

    def __init__(self, browser, world):
        self._browser, self._world = browser, world
        self._contexts = []
        self.console_errors: list[str] = []

    def new(self, user: str | None = None, *, viewport=DESKTOP, javascript: bool = True):
        """A page, signed in as user when given."""
        context = self._browser.new_context(viewport=viewport, java_script_enabled=javascript,
                                            base_url=self._world.base_url)
        # axe-core is served to the test browser alone, from the page's own origin, so the
        # pages' Content-Security-Policy stays as strict as in production.
        context.route("**" + AXE_URL, lambda route: route.fulfill(
            body=axe_source(), content_type="text/javascript"))
        self._contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.console_errors.append(f"{page.url}: {error}"))
        if user is not None:
            sign_in(page, self._world.tokens[user])
        return page

    def _console(self, page, message) -> None:
        # A page answered with an error status is logged too; the tests check statuses.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(f"{page.url}: {message.text}")

    def close(self) -> None:
        """Close every context."""
        for context in self._contexts:
            context.close()


def sign_in(page, token: str) -> None:
    """Sign in through the form."""
    page.goto("/ui/signin")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()




def sign_in(page, token: str) -> None:
    """Sign in through the form."""
    page.goto("/ui/signin")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def serious_violations(page) -> list[str]:
    """What axe-core finds of serious or critical impact on the page, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL)
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{[node['target'] for node in v['nodes']][:5]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def axe_source() -> bytes:
    """The vendored axe-core, checked against its recorded digest."""
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, "axe.min.js is not the vendored 4.14.1"
    return data


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    """With UI_SCREENSHOTS=1, keep what the page shows as docs/screenshots/<name>.png."""
    if os.environ.get("UI_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)
