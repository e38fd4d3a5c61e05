"""Every page in the browser: accessibility, phone and desktop widths, no JavaScript, validation.

We test these aspects, in Debian's Chromium against the app on a real server:
- axe-core (vendored 4.14.1) finds no serious or critical violation on any page — sign-in,
  pipelines, runs, a paused run, a finished run, approvals, an approval, validation
  with errors, a missing page — at 1280 px and at 375 px, and no page scrolls sideways;
- without JavaScript the lists (pipelines, runs, approvals) and a run's graph and log
  are all there;
- a config with errors shows each error in the list and at its line, in the config shown
  with line numbers; a valid config is reported valid.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from ui_browser import DESKTOP, PHONE, screenshot, serious_violations
from ui_world import paused, started

BAD_CONFIG = """\
stages:
- name: Build
  steps:
  - runScriptConfig:
      image: golang:1.23
      shellScirpt: go build ./...
- name: Test
  when: {event: [push, pr]}
  steps:
  - runScriptConfig: {image: alpine, shellScript: go test ./...}
"""


def _finished(world, *, fail: bool = True) -> int:
    """A run that ended: Failed in its second step, or (fail False) Success."""
    run, build = started(world, branch="release/1.4", event="tag")
    for name in ("step-0-0", "step-0-1"):
        build.start_stage(name)
        build.append_log(name, f"building {name}\nok\n")
        build.finish_stage(name, "FAILED" if fail and name == "step-0-1" else "SUCCESS")
    if not fail:
        build.start_stage("step-1-0")
        build.finish_stage("step-1-0")
        build.start_stage("step-2-0")
        build.append_log("step-2-0", "released\n")
        build.finish_stage("step-2-0")
    build.finish("FAILED" if fail else "SUCCESS")
    world.cycles()
    return run


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_every_page_is_accessible_and_fits_the_screen(world, pages, viewport):
    _finished(world, fail=False)
    failed = _finished(world)
    run, _, approval_id = paused(world)
    signed_out = pages.new(viewport=viewport)
    signed_out.goto("/ui/signin")
    page = pages.new("alice", viewport=viewport)
    checked = [(signed_out, "sign-in")]
    for path, name in (("/ui/", "pipelines"), ("/ui/pipelines/shop:web", "runs"),
                       (f"/ui/pipelines/shop:web/runs/{run}", "run-paused"),
                       (f"/ui/pipelines/shop:web/runs/{failed}", "run-failed"),
                       ("/ui/approvals", "approvals"), (f"/ui/approvals/{approval_id}", "approval"),
                       ("/ui/validate", "validate"), ("/ui/no-such-page", "missing")):
        page.goto(path)
        if name == "validate":
            page.get_by_label("Pipeline config (YAML)").fill(BAD_CONFIG)
            page.get_by_role("button", name="Validate").click()
            expect(page.get_by_role("heading", name="3 errors")).to_be_visible()
        if name.startswith("run-"):
            expect(page.locator("#log-status")).not_to_be_empty()
        checked.append((page, name))
        assert serious_violations(page) == [], name
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        if viewport == PHONE and name == "run-paused":
            screenshot(page, "run-phone", full_page=True)
        if viewport == DESKTOP and name in ("pipelines", "runs", "validate"):
            screenshot(page, name, full_page=name == "validate")
    assert serious_violations(signed_out) == []


def test_lists_runs_and_logs_are_readable_without_javascript(world, pages):
    failed = _finished(world)
    paused(world)
    page = pages.new("alice", javascript=False)
    page.goto("/ui/")
    expect(page.get_by_role("row", name="shop:web")).to_contain_text("Pending")
    page.get_by_role("link", name="shop:web").click()
    expect(page.get_by_role("table", name="Runs of shop:web, newest first")
           .get_by_role("row")).to_have_count(3)  # the header and two runs
    page.goto(f"/ui/pipelines/shop:web/runs/{failed}")
    expect(page.locator(".graph .stage").first).to_contain_text("Failed")
    expect(page.locator("#log")).to_have_text("building step-0-1\nok\n")  # the failed step
    page.goto("/ui/approvals")
    expect(page.get_by_role("link", name="Ship it to production?")).to_be_visible()


def test_a_config_with_errors_shows_them_at_their_lines(world, pages):
    page = pages.new("reader")  # validating changes nothing: a read token may
    page.goto("/ui/validate")
    page.get_by_label("Pipeline config (YAML)").fill(BAD_CONFIG)
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("heading", name="3 errors")).to_be_visible()
    listed = page.get_by_role("alert").get_by_role("listitem")
    expect(listed).to_have_text([
        "line 5, column 7: stages[0].steps[0].runScriptConfig: missing required key "
        "'shellScript'",
        "line 6, column 7: stages[0].steps[0].runScriptConfig.shellScirpt: unknown key "
        "'shellScirpt'; did you mean 'shellScript'?",
        "line 8, column 24: stages[1].when.event[1]: expected one of push, pull_request, tag, "
        "manual, image, cron; got 'pr'"])
    source = page.get_by_role("list", name="The config with its errors at their lines")
    expect(source.get_by_role("listitem")).to_have_count(11)  # ten lines and the last newline
    expect(page.locator("#line-6")).to_contain_text("shellScirpt: go build")
    expect(page.locator("#line-6 .line-problem")).to_have_text(
        "▲ column 7: unknown key 'shellScirpt'; did you mean 'shellScript'?")
    expect(page.locator("#line-8 .line-problem")).to_contain_text("got 'pr'")
    expect(page.locator(".has-problem")).to_have_count(3)
    listed.nth(2).get_by_role("link").click()
    expect(page).to_have_url(f"{world.base_url}/ui/validate#line-8")
    expect(page.get_by_label("Pipeline config (YAML)")).to_have_value(BAD_CONFIG)

    page.get_by_label("Pipeline config (YAML)").fill(BAD_CONFIG.replace("Scirpt", "Script")
                                                      .replace(", pr]", ", pull_request]"))
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("heading", name="Valid", exact=True)).to_be_visible()
    expect(page.locator(".has-problem")).to_have_count(0)
