"""Real executions for the Blue Ocean tests, driven through the engine and the fake Jenkins.

One pipeline (``shop:web``: a two-step Build stage, an approval stage, a Release stage
skipped on main), drivers that bring a new execution of it into a given state, and the
fixtures that make one run in every state (the first started by a GitHub push delivery,
so it has a change set).
"""

from __future__ import annotations

import pytest
from fakes.jenkins import FakeJenkins
from same_origin import SameOriginClient
from sqlalchemy import select
from webhook_helpers import headers_for, sample

from sidecar.app import create_app
from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.jenkins import JenkinsClient
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


SECRET = "s3cret-webhook-key"


def create_pipeline(store) -> None:
    """The test pipeline, with no limit on concurrent runs."""
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "web", "inlineConfig": CONFIG,
                                   "webhookSecret": SECRET})
        projects.update_settings(session, "shop", {"executorQuota": 0})


def trigger(store) -> int:
    """A new execution; its run number."""
    with store.session() as session:
        return executions.trigger(session, PIPELINE, executions.TriggerRequest()).run


def push(client) -> int:
    """A new execution started by GitHub's sample push delivery; its run number."""
    body = sample("github/push.json")
    response = client.post(f"/hooks/github?pipeline={PIPELINE}", data=body, headers={
        "Content-Type": "application/json", **headers_for("github", body, "push", SECRET)})
    assert response.status_code == 202, response.json
    return int(response.json["executionId"].rsplit("-", 1)[1])


def build_of(fake, run: int):
    """The fake build of run."""
    (build,) = [b for b in fake.builds.values()
                if b.parameters.get(EXECUTION_PARAMETER) == f"{PIPELINE}-{run}"]
    return build


def started(store, engine, fake, start=None):
    """A run started in Jenkins (by start(), else a trigger), and its build."""
    run = start() if start else trigger(store)
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


def finish(store, engine, fake, failing: str | None = None, start=None) -> int:
    """A run that ended, failed in step stage failing if given."""
    run, build = started(store, engine, fake, start)
    run_stage(build, "step-0-0")
    run_stage(build, "step-0-1", "FAILED" if failing == "step-0-1" else "SUCCESS")
    if failing is None:
        run_stage(build, "step-1-0")
    build.finish("FAILED" if failing else "SUCCESS")
    engine.cycle()
    return run


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as jenkins:
        yield jenkins


@pytest.fixture
def app(database_url, fake):
    app = create_app({"TESTING": True, "database_url": database_url})
    app.test_client_class = SameOriginClient
    jenkins = JenkinsClient(url=fake.url, user="sidecar", token=TOKEN)
    app.extensions["sidecar"].jenkins = jenkins
    yield app
    jenkins.close()
    app.extensions["sidecar"].store.dispose()


@pytest.fixture
def store(app):
    return app.extensions["sidecar"].store


@pytest.fixture
def engine(app, store, templates):
    return Engine(store=store, jenkins=app.extensions["sidecar"].jenkins, templates=templates,
                  queue_wait=0)


@pytest.fixture
def scenarios(app, store, engine, fake):
    """Run number of each state, all of one pipeline: succeeded (started by a push),
    failed, paused, running, aborted, waiting in Jenkins' queue, waiting in the sidecar."""
    create_pipeline(store)
    found = {"succeeded": finish(store, engine, fake, start=lambda: push(app.test_client())),
             "failed": finish(store, engine, fake, failing="step-0-1"),
             "paused": pause(store, engine, fake)}
    run, build = started(store, engine, fake)
    build.start_stage("step-0-0")
    build.append_log("step-0-0", "half")
    engine.cycle()
    found["running"] = run
    run, build = started(store, engine, fake)
    build.start_stage("step-0-0")
    engine.cycle()
    assert app.test_client().put(f"{BO_PIPELINE}runs/{run}/stop/",
                                 content_type="application/json").status_code == 200
    engine.cycle()
    found["aborted"] = run
    fake.auto_start = False
    found["jenkins-queue"] = trigger(store)
    engine.cycle()
    found["queued"] = trigger(store)
    return found
