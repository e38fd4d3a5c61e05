"""One bad execution never stalls the others.

We test these aspects, on SQLite and PostgreSQL, each with one poison execution among ten
good ones (five pipelines of two projects, quota 0): the ten start in the same cycle and
finish, while the poison one fails with a readable reason, at whichever phase it breaks:
- admit: its stored config no longer parses (as when stricter validation arrives with an
  upgrade while it waits);
- render: its stored steps no longer match its config, so rendering raises an error no
  retry mends: it is retried with a counter, then fails;
- start: a parameter holds a lone surrogate, which cannot be sent to Jenkins (before,
  this failed every engine cycle and stalled every start);
- follow: Jenkins answers 500 for its build alone (a flow graph it cannot load); it is
  retried with a counter, then fails, and its build is stopped.

The poisons are put into the store directly: the HTTP API refuses such input, but the
engine must not depend on that.
"""

from __future__ import annotations

import pytest
from fakes.jenkins import FakeJenkins
from sqlalchemy import update

from sidecar.engine.isolation import Retries
from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.jenkins import JenkinsClient
from sidecar.services import executions, pipelines, projects
from sidecar.store.models import Execution, StepState

TOKEN = "5f0c1e2d3b4a59687766554433221100ff"
CONFIG = """
parameters:
- {name: TARGET, default: staging}
stages:
- name: Build
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}
"""
SURROGATE = "\ud800"


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as jenkins:
        yield jenkins
    assert jenkins.errors == []


@pytest.fixture
def engine(store, fake, templates):
    with JenkinsClient(url=fake.url, user="sidecar", token=TOKEN) as client:
        yield Engine(store=store, jenkins=client, templates=templates, queue_wait=5,
                     retries=Retries(limit=3, backoff=0))


@pytest.fixture
def good(store):
    """Ten good executions of five pipelines in two projects."""
    with store.session() as session:
        for project in ("shop", "blog"):
            projects.update_settings(session, project, {"executorQuota": 0})
            for name in ("api", "web", "cli")[:3 if project == "shop" else 2]:
                pipelines.create(session, {"project": project, "name": name,
                                           "inlineConfig": CONFIG})
    ids = []
    for pipeline_id in ("shop:api", "shop:web", "shop:cli", "blog:api", "blog:web") * 2:
        with store.session() as session:
            ids.append(executions.trigger(session, pipeline_id,
                                          executions.TriggerRequest()).id)
    return ids


def _poison(store, pipeline_id: str, **request) -> str:
    with store.session() as session:
        return executions.trigger(session, pipeline_id,
                                  executions.TriggerRequest(**request)).id


def _finish_all(fake, engine, store, ids, poison):
    for build in fake.builds.values():
        if build.parameters[EXECUTION_PARAMETER] != poison and build.result is None:
            build.start_stage("step-0-0")
            build.append_log("step-0-0", "ok\n")
            build.finish_stage("step-0-0")
            build.finish("SUCCESS")
    engine.cycle()
    with store.session() as session:
        assert {executions.get(session, i).state for i in ids} == {"Success"}


def _started(fake) -> set[str]:
    return {b.parameters[EXECUTION_PARAMETER] for b in fake.builds.values()}


def _reason(store, execution_id) -> tuple[str, str]:
    with store.session() as session:
        execution = executions.get(session, execution_id)
        return execution.state, execution.reason


def test_a_config_that_no_longer_parses_fails_at_admission(store, fake, engine, good):
    poison = _poison(store, "shop:api")
    with store.session() as session:
        session.execute(update(Execution).where(Execution.id == poison)
                        .values(config_snapshot="stages: [\n"))
    assert engine.cycle().started == 10
    assert _started(fake) == set(good)
    state, reason = _reason(store, poison)
    assert state == "Failed"
    assert reason.startswith("could not admit: config:")
    _finish_all(fake, engine, store, good, poison)


def test_a_run_whose_render_breaks_is_retried_then_failed(store, fake, engine, good):
    poison = _poison(store, "shop:cli")
    with store.session() as session:  # its step rows no longer match its config
        session.add(StepState(execution_id=poison, stage_index=5, step_index=0,
                              stage_name="Gone", state="Waiting"))
    assert engine.cycle().started == 10
    assert _started(fake) == set(good)
    assert _reason(store, poison)[0] == "Building"  # a bug may be passing: retried
    engine.cycle()
    engine.cycle()  # the third failure in a row is the last
    assert _reason(store, poison) == (
        "Failed", "could not start: IndexError: tuple index out of range")
    assert _started(fake) == set(good)
    _finish_all(fake, engine, store, good, poison)


def test_a_lone_surrogate_parameter_fails_its_run_alone(store, fake, engine, good):
    poison = _poison(store, "shop:web", parameters={"TARGET": SURROGATE})
    assert engine.cycle().started == 10
    assert _started(fake) == set(good)
    state, reason = _reason(store, poison)
    assert (state, reason) == ("Failed", "could not start: parameters.TARGET: the value is "
                                         "not valid Unicode text (it holds a lone surrogate)")
    reason.encode("utf-8")  # storable and showable as it is
    engine.cycle()  # and the next cycles go on as well
    _finish_all(fake, engine, store, good, poison)


def test_a_build_jenkins_cannot_show_is_retried_then_failed_and_stopped(
        store, fake, engine, good):
    poison = _poison(store, "blog:api")
    assert engine.cycle().started == 11
    (broken,) = [b for b in fake.builds.values()
                 if b.parameters[EXECUTION_PARAMETER] == poison]
    broken.broken = True
    for _ in range(2):  # the limit is 3 failures in a row; the others go on meanwhile
        engine.cycle()
        assert _reason(store, poison)[0] == "Building"
    engine.cycle()
    state, reason = _reason(store, poison)
    assert state == "Failed"
    assert reason.startswith("could not follow the Jenkins build: Jenkins GET "
                             f"/job/{broken.job}/{broken.number}/wfapi/describe: HTTP 500")
    assert "failed to load the flow graph" in reason
    assert broken.stop_requested
    _finish_all(fake, engine, store, good, poison)


def test_a_jenkins_that_fails_every_build_fails_none(store, fake, engine, good):
    """Refusals for every run are Jenkins' trouble, not the runs' (DESIGN §7)."""
    engine.cycle()
    for build in fake.builds.values():
        build.broken = True
    for _ in range(5):
        engine.cycle()
    with store.session() as session:
        assert {executions.get(session, i).state for i in good} == {"Building"}
    for build in fake.builds.values():
        build.broken = False
    _finish_all(fake, engine, store, good, None)
