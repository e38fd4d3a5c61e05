"""Approvals in the browser: the list, one approval, approve and reject, the submitter rule.

We test these aspects, in Debian's Chromium against the app on a real server, with a run
paused on its input in the fake Jenkins:
- the approvals list shows the pending approval; its page shows the message, the
  parameters as fields with their defaults and descriptions, and who may decide;
- a listed submitter approves with parameters and a comment: the page shows the
  decision, Jenkins' input receives exactly those parameters, and the run goes on to
  Success;
- a user who is not a submitter is told so, and a decision it sends anyway is refused
  by the service (403) with the reason on the page: nothing is stored or sent to Jenkins;
- a member of a listed group rejects with a comment: Jenkins' input is aborted and the
  run ends Denied, as the run page then shows;
- a read-only token sees the approval but no decision form.
"""

from __future__ import annotations

from fakes.jenkins_model import InputAnswer
from playwright.sync_api import expect
from ui_browser import screenshot
from ui_world import paused

from sidecar.services import approvals
from sidecar.store.models import Approval


def _approval(world, approval_id: int) -> Approval:
    with world.store.session() as session:
        found = approvals.get(session, approval_id)
        session.expunge(found)
        return found


def test_a_submitter_approves_with_parameters_and_the_run_goes_on(world, pages):
    run, build, approval_id = paused(world)
    page = pages.new("alice")
    page.goto("/ui/approvals")
    page.get_by_role("link", name="Ship it to production?").click()
    expect(page.locator("h1")).to_contain_text("Ship it to production?")
    expect(page.locator("#submitters")).to_have_text("alice, release-managers")
    form = page.get_by_role("region", name="Decision")
    expect(form.get_by_label("REGION")).to_have_value("us-east")
    expect(form.get_by_label("CANARY")).to_be_checked()
    expect(form.get_by_text("Release note")).to_be_visible()
    form.get_by_label("REGION").select_option("eu-west")
    form.get_by_label("CANARY").uncheck()
    form.get_by_label("NOTE").fill("first EU release")
    form.get_by_label("Comment").fill("numbers look good")
    screenshot(page, "approval")
    form.get_by_role("button", name="Ship (approve)").click()

    expect(page.locator("h1")).to_contain_text("Approved")
    decided = page.get_by_role("region", name="Decision")
    expect(decided).to_contain_text("Approved by alice (via ui)")
    expect(decided).to_contain_text("numbers look good")
    expect(decided.locator("dt:text-is('Sent to Jenkins') + dd")).to_have_text("yes")
    expect(decided.get_by_role("table", name="Parameters")).to_contain_text("eu-west")
    assert build.answers == [InputAnswer("Ship-it", "proceed", {
        "REGION": "eu-west", "CANARY": False, "NOTE": "first EU release"})]

    build.finish_stage("step-1-0")
    build.finish("SUCCESS")
    world.cycles()
    page.get_by_role("link", name=f"shop:web #{run}").first.click()
    expect(page.locator(".run-head h1")).to_contain_text("Success")
    expect(page.locator(".lane.decision")).to_contain_text("Approval approved")


def test_a_non_submitter_is_refused_and_a_group_member_rejects(world, pages):
    run, build, approval_id = paused(world)
    carol = pages.new("carol")
    carol.goto(f"/ui/approvals/{approval_id}")
    expect(carol.locator("#not-submitter")).to_contain_text(
        "Only alice, release-managers may decide; you are signed in as carol")
    with carol.expect_response(f"**/ui/approvals/{approval_id}/decision") as response:
        carol.get_by_role("button", name="Ship (approve)").click()
    assert response.value.status == 403
    expect(carol.get_by_role("alert")).to_contain_text(
        "only alice, release-managers may decide this approval")
    assert _approval(world, approval_id).state == "Pending"
    assert build.answers == []

    bob = pages.new("bob")
    bob.goto(f"/ui/approvals/{approval_id}")
    form = bob.get_by_role("region", name="Decision")
    form.get_by_label("Comment").fill("not during the freeze")
    form.get_by_role("button", name="Reject").click()
    expect(bob.locator("h1")).to_contain_text("Rejected")
    expect(bob.get_by_role("region", name="Decision")).to_contain_text(
        "Rejected by bob (via ui)")
    assert build.answers == [InputAnswer("Ship-it", "abort", {})]
    stored = _approval(world, approval_id)
    assert (stored.decided_by, stored.decision["comment"]) == ("bob", "not during the freeze")

    world.cycles()  # Jenkins aborted the build: the run ends Denied
    bob.goto(f"/ui/pipelines/shop:web/runs/{run}")
    expect(bob.locator(".run-head h1")).to_contain_text("Denied")
    expect(bob.locator(".lane.decision")).to_contain_text("Approval rejected")


def test_a_read_only_token_sees_the_approval_but_cannot_decide(world, pages):
    _, _, approval_id = paused(world)
    page = pages.new("reader")
    page.goto(f"/ui/approvals/{approval_id}")
    expect(page.get_by_role("region", name="Decision")).to_contain_text(
        "Your token has read access only")
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)
