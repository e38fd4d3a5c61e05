"""Runs in the browser: trigger to finish with a growing log, stop and rerun, big runs.

We test these aspects, in Debian's Chromium against the app on a real server, with the
fake Jenkins moved on by the engine cycle by cycle:
- a run started from the pipeline page with parameters opens its run page; as the build
  goes on the stage graph shows each state as a word beside its colour, the running
  step's log grows line by line in the open page (followed by byte offsets), the
  approval step is a decision point, a `when` that did not match shows Skipped; at the
  end the run is Success (also said to screen readers) with durations, its Jenkins build
  link, its parameters and its config snapshot;
- Stop ends a running run Aborted through Jenkins; Rerun starts a new run with the same
  parameters; a started run can be run again with other parameters;
- a run of 50 stages with a 10 MB log opens with only the log's last page (the page and
  every log request stay small), and earlier pages load on request, contiguous;
- the runs list pages and filters by branch, state and event.
"""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select
from ui_browser import screenshot
from ui_world import started

from sidecar.services import executions, pipelines
from sidecar.store.models import Execution, LogChunk, utcnow

WEB = "shop:web"


def _execution(world, run: int) -> Execution:
    with world.store.session() as session:
        execution = session.scalars(select(Execution).where(
            Execution.pipeline_id == WEB, Execution.run == run)).one()
        session.expunge(execution)
        return execution


def test_a_run_from_trigger_to_finish_shows_its_graph_and_a_growing_log(world, pages):
    page = pages.new("alice")
    page.goto(f"/ui/pipelines/{WEB}")
    start = page.get_by_role("region", name="Start a run")
    start.get_by_label("Branch").fill("feature/login")
    start.get_by_label("TARGET").select_option("production")
    start.get_by_label("DRY_RUN").uncheck()
    start.get_by_role("button", name="Run with these parameters").click()
    expect(page).to_have_url(f"{world.base_url}/ui/pipelines/{WEB}/runs/1")
    assert _execution(world, 1).parameters == {"TARGET": "production", "DRY_RUN": "false"}
    expect(page.locator(".run-head h1")).to_contain_text("Waiting")

    world.cycles()  # admitted, rendered, triggered: the fake Jenkins starts the build
    build = world.build_of(WEB, 1)
    build.start_stage("step-0-0")
    build.start_stage("step-0-1")
    world.cycles()  # the sidecar sees both steps running
    graph = page.locator(".graph")
    expect(graph.locator(".stage").nth(0)).to_contain_text("Building")
    expect(page.locator(".run-head h1")).to_contain_text("Building")
    expect(page.get_by_role("link", name=f"sidecar.shop.web #{build.number}")).to_have_attribute(
        "href", f"{world.fake.url}/job/sidecar.shop.web/{build.number}/")

    page.get_by_role("link", name="Script go build ./...").click()
    log = page.locator("#log")
    for line in ("compiling 1/3", "compiling 2/3", "compiling 3/3"):
        build.append_log("step-0-0", line + "\n")
        expect(log).to_contain_text(line)  # the open page follows the log as it grows
    expect(log).to_have_text("compiling 1/3\ncompiling 2/3\ncompiling 3/3\n")
    expect(page.locator("#log-status")).to_contain_text("Following the log")
    screenshot(page, "run")

    build.finish_stage("step-0-0")
    build.append_log("step-0-1", "vet ok\n")
    build.finish_stage("step-0-1")
    build.start_stage("step-1-0")
    build.pause_for_input("Ship-it", "Ship it to production?", ok="Ship")
    world.cycles()
    decision = graph.locator(".lane.decision")
    expect(decision).to_contain_text("Decision: Approval Ship it to production?")
    expect(decision).to_contain_text("Pending")
    expect(decision.get_by_role("link", name="Decide")).to_be_visible()
    expect(graph.locator(".stage").nth(2)).to_contain_text("Skipped")  # when: release/*

    build.answer("Ship-it", "proceed", {})
    build.finish_stage("step-1-0")
    build.finish("SUCCESS")
    world.cycles()
    expect(page.locator(".run-head h1")).to_contain_text("Success")
    expect(page.locator("#run-announce")).to_have_text("The run is now Success.")
    expect(page.locator("#log-status")).to_contain_text("Complete")
    expect(log).to_have_text("compiling 1/3\ncompiling 2/3\ncompiling 3/3\n")  # each line once
    for stage in range(2):
        expect(graph.locator(".stage").nth(stage)).to_contain_text("Success")
    expect(page.locator(".facts")).to_contain_text("Duration")
    expect(page.get_by_role("table", name="Build parameters of this run")).to_contain_text(
        "production")
    page.get_by_text("The config this run was started with").click()
    expect(page.locator("pre.config")).to_contain_text("shellScript: go build ./...")


def test_stop_ends_a_running_run_and_rerun_starts_it_again(world, pages):
    run, build = started(world, parameters={"TARGET": "production"}, branch="main")
    build.start_stage("step-0-0")
    world.cycles()
    page = pages.new("alice")
    page.goto(f"/ui/pipelines/{WEB}/runs/{run}")
    expect(page.locator(".run-head h1")).to_contain_text("Building")
    page.get_by_role("button", name="Stop").click()
    world.cycles()  # the engine asks Jenkins to stop the build
    assert build.stop_requested
    world.cycles()  # and sees it end
    expect(page.locator(".run-head h1")).to_contain_text("Aborted")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)

    page.get_by_role("button", name="Rerun").click()
    expect(page).to_have_url(f"{world.base_url}/ui/pipelines/{WEB}/runs/{run + 1}")
    expect(page.locator(".run-head h1")).to_contain_text("Waiting")
    rerun = _execution(world, run + 1)
    assert (rerun.trigger_type, rerun.triggered_by) == ("rerun", "alice")
    assert rerun.parameters == {"TARGET": "production", "DRY_RUN": "true"}

    page.get_by_role("link", name="Run with other parameters").click()
    start = page.get_by_role("region", name="Start a run")
    expect(start.get_by_label("TARGET")).to_have_value("production")
    expect(start.get_by_label("Branch")).to_have_value("main")


BIG_STAGES = 50
LOG_LINES = 175_000  # 10 MB
CHUNK_LINES = 18_000  # about 1 MB per archived chunk


def _big_run(world) -> tuple[int, bytes]:
    """An ended run of 50 stages whose first step printed 10 MB, archived in 1 MB chunks."""
    config = "stages:\n" + "".join(
        f"- name: Stage {s}\n  steps:\n"
        f"  - runScriptConfig: {{image: alpine, shellScript: make part-{s}-a}}\n"
        f"  - runScriptConfig: {{image: alpine, shellScript: make part-{s}-b}}\n"
        for s in range(BIG_STAGES))
    lines = [f"{n:06d} compiling module {n % 977} of the monorepo, all fine ✓\n"
             for n in range(LOG_LINES)]
    chunks = ["".join(lines[n:n + CHUNK_LINES]) for n in range(0, LOG_LINES, CHUNK_LINES)]
    with world.store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "mono", "inlineConfig": config})
        execution = executions.trigger(session, "shop:mono", executions.TriggerRequest())
        now = utcnow()
        for step in execution.steps:
            step.state, step.started_at, step.ended_at = "Success", now, now
        first = execution.steps[0]
        for chunk in chunks:
            session.add(LogChunk(execution_id=execution.id, stage_index=0, step_index=0,
                                 offset=first.log_offset, text=chunk))
            first.log_offset += len(chunk.encode())
        execution.state, execution.started_at, execution.ended_at = "Success", now, now
        return execution.run, "".join(chunks).encode()


def test_a_run_of_50_stages_with_a_10_mb_log_opens_with_one_log_page(world, pages):
    run, log = _big_run(world)
    assert len(log) > 10_000_000
    page = pages.new("alice")
    sizes = {}
    page.on("response", lambda response: sizes.__setitem__(response.url, len(response.body())))
    page.goto(f"/ui/pipelines/shop:mono/runs/{run}?step=0.0")
    expect(page.locator(".graph > li")).to_have_count(BIG_STAGES)
    expect(page.locator(".lane")).to_have_count(2 * BIG_STAGES)
    pre = page.locator("#log")
    expect(pre).to_contain_text(f"{LOG_LINES - 1:06d} compiling")
    expect(page.locator("#log-status")).to_contain_text("showing the last part")
    assert max(sizes.values()) < 300_000, sizes  # the page carries one 64 KB log page, no more

    for _ in range(2):
        shown = len(pre.text_content().encode())
        page.get_by_role("button", name="Show earlier output").click()
        expect(pre).not_to_have_text(log[-shown:].decode())
    text = pre.text_content().encode()
    assert 3 * 60_000 < len(text) <= 3 * 65_536
    assert log.endswith(text) and text[:6].isdigit()  # contiguous, from a line's start
    assert max(sizes.values()) < 300_000
