"""Real executions for the Blue Ocean tests, driven through the engine and the fake Jenkins.

One pipeline (``shop:web``: a two-step Build stage, an approval stage, a Release stage
skipped on main) and drivers that bring a new execution of it into a given state.
"""

from __future__ import annotations

from sqlalchemy import select

from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.services import executions, pipelines, projects
from sidecar.store.models import Approval

TOKEN = "11c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8c"
PIPELINE = "shop:web"
BO_PIPELINE = "/blue/rest/organizations/jenkins/pipelines/sidecar.shop.web/"
CONFIG = """
parameters:
- {name: TARGET, type: string, default: staging, description: Where to deploy}
stages:
- name: Build
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}
  - runScriptConfig: {image: golang:1.23, shellScript: go vet ./...}
- name: Approve
  steps:
  - approvalConfig:
      id: ship-it
      message: Ship it?
      ok: Ship
      submitters: [alice, release-managers]
      parameters:
      - {name: NOTE, type: string, default: none, description: Release note}
- name: Release
  when: {branch: [release/*]}
  steps:
  - runScriptConfig: {image: alpine, shellScript: ./release.sh}
"""


def create_pipeline(store) -> None:
    """The test pipeline, with no limit on concurrent runs."""
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "web", "inlineConfig": CONFIG})
        projects.update_settings(session, "shop", {"executorQuota": 0})


def trigger(store) -> int:
    """A new execution; its run number."""
    with store.session() as session:
        return executions.trigger(session, PIPELINE, executions.TriggerRequest()).run


def build_of(fake, run: int):
    """The fake build of run."""
    (build,) = [b for b in fake.builds.values()
                if b.parameters.get(EXECUTION_PARAMETER) == f"{PIPELINE}-{run}"]
    return build


def started(store, engine, fake):
    """A run started in Jenkins, and its build."""
    run = trigger(store)
    engine.cycle()
    return run, build_of(fake, run)


def run_stage(build, name: str, status: str = "SUCCESS") -> None:
    """One step stage of a build, with some log."""
    build.start_stage(name)
    build.append_log(name, f"output of {name}\n")
    build.finish_stage(name, status)


def pause(store, engine, fake) -> int:
    """A run waiting on its approval, with the Approval row the sidecar keeps."""
    run, build = started(store, engine, fake)
    run_stage(build, "step-0-0")
    run_stage(build, "step-0-1")
    build.start_stage("step-1-0")
    build.pause_for_input("Ship-it", "Ship it?", ok="Ship", parameters={"NOTE": "none"})
    engine.cycle()
    with store.session() as session:
        execution_id = f"{PIPELINE}-{run}"
        known = session.scalars(select(Approval).where(Approval.execution_id == execution_id,
                                                       Approval.state == "Pending")).first()
        if known is None:  # where the approvals sync does not record it itself
            session.add(Approval(
                execution_id=execution_id, stage_index=1, step_index=0, input_id="Ship-it",
                message="Ship it?", ok_text="Ship", submitters=["alice", "release-managers"],
                parameters=[{"name": "NOTE", "type": "string", "default": "none",
                             "description": "Release note"}], state="Pending"))
    return run


def finish(store, engine, fake, failing: str | None = None) -> int:
    """A run that ended, failed in step stage failing if given."""
    run, build = started(store, engine, fake)
    run_stage(build, "step-0-0")
    run_stage(build, "step-0-1", "FAILED" if failing == "step-0-1" else "SUCCESS")
    if failing is None:
        run_stage(build, "step-1-0")
    build.finish("FAILED" if failing else "SUCCESS")
    engine.cycle()
    return run
