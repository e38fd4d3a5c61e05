"""Signing in, per-project access and forged forms, in the browser.

We test these aspects, in Debian's Chromium against the app on a real server:
- sign-in with the keyboard alone (skip link, tab order, Enter); the token never appears
  in a page, a URL, the cookie or to scripts (document.cookie is empty: the session
  cookie is HttpOnly, SameSite=Strict, path /ui); a wrong token is refused with the
  reason; signing out ends the session;
- a page opened while signed out leads to the sign-in form and back to that page;
- a token of another project sees none of shop's pipelines, runs, approvals or logs:
  they are missing (404), as pipelines that do not exist;
- a page of another origin that posts a form to the UI for a signed-in user (CSRF)
  is refused, and nothing is stopped.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import expect
from ui_browser import screenshot
from ui_world import paused, started

from sidecar.services import executions


def test_sign_in_with_the_keyboard_keeps_the_token_out_of_pages_urls_and_scripts(world, pages):
    page = pages.new()
    token = world.tokens["alice"]
    seen = []
    page.on("response", lambda r: seen.append((r.url, r.headers, r.text() if
                                               "text" in r.headers.get("content-type", "")
                                               else "")))
    page.goto("/ui/pipelines/shop:web")
    expect(page).to_have_url(f"{world.base_url}/ui/signin?next=/ui/pipelines/shop:web")
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type("not-a-token")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("This token is not known.")
    screenshot(page, "signin")

    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{world.base_url}/ui/pipelines/shop:web")  # back where it began
    expect(page.get_by_text("Signed in as")).to_contain_text("alice")

    (cookie,) = page.context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ui")
    assert page.evaluate("document.cookie") == ""
    assert token not in cookie["value"] and token not in page.content()
    assert not [url for url, headers, body in seen
                if token in url or token in body or token in str(headers)]

    page.goto("/ui/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="shop:web")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("shop:web")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/ui/")
    expect(page).to_have_url(f"{world.base_url}/ui/signin?next=/ui/")


def test_another_projects_token_sees_none_of_its_pipelines(world, pages):
    run, _, approval_id = paused(world)
    page = pages.new("olga")
    page.goto("/ui/")
    expect(page.get_by_role("link", name="other-team:api")).to_be_visible()
    expect(page.get_by_text("shop:web")).to_have_count(0)
    page.goto("/ui/approvals?state=")
    expect(page.get_by_text("No approvals.")).to_be_visible()
    for path in ("/ui/pipelines/shop:web", f"/ui/pipelines/shop:web/runs/{run}",
                 f"/ui/pipelines/shop:web/runs/{run}/live",
                 f"/ui/pipelines/shop:web/runs/{run}/steps/0/0/log",
                 f"/ui/approvals/{approval_id}", "/ui/pipelines/shop:nothing"):
        response = page.goto(path)
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    def main_part(path: str, name: str) -> str:
        return page.request.get(path).text().split("<main")[1].replace(name, "X")

    # A pipeline of another project looks exactly like one that does not exist.
    assert main_part("/ui/pipelines/shop:web", "shop:web") == \
        main_part("/ui/pipelines/shop:nothing", "shop:nothing")


class _Attacker:
    """A page on another origin with a form that posts to the UI on load."""

    def __init__(self, target: str):
        page = (f'<html><body><form id="f" method="post" action="{target}">'
                '<input name="csrf_token" value="guessed"></form>'
                '<script>document.getElementById("f").submit()</script></body></html>').encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


def test_a_form_posted_from_another_site_is_refused(world, pages):
    run, build = started(world)
    page = pages.new("alice")
    attacker = _Attacker(f"{world.base_url}/ui/pipelines/shop:web/runs/{run}/stop")
    try:
        with page.expect_response(f"**/runs/{run}/stop") as response:
            page.goto(attacker.url)
        assert response.value.status == 400
        expect(page.get_by_role("alert")).to_contain_text("did not come from this site")
    finally:
        attacker.close()
    with world.store.session() as session:
        assert not executions.get(session, f"shop:web-{run}").stop_requested
    world.cycles()
    assert not build.stop_requested
