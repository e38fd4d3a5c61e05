"""Builds reach Jenkins' queue in trigger order within a project.

We test these aspects, on SQLite and PostgreSQL, with the engine against the fake Jenkins:
- two projects, five pipelines, eighteen executions triggered interleaved and started in
  one cycle (renders in parallel; the oldest execution's pipeline is large, so its render
  is the slowest): in each project the queue items are in trigger order (trigger time,
  then run number), and each build runs its own execution's script;
- an execution that cannot start (a render error) does not hold back the later ones of
  its project;
- a build still in Jenkins' queue after the engine stopped waiting for it (Jenkins quiet
  before a restart) keeps its pipeline's next execution from rewriting the job, cycle
  after cycle, so that when the queue moves each build runs its own execution's script;
  and the project's later executions wait with it, so its builds still reach Jenkins
  in trigger order.
"""

from __future__ import annotations

import pytest
from fakes.jenkins import FakeJenkins
from sqlalchemy import update

from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.jenkins import JenkinsClient
from sidecar.services import executions, pipelines, projects
from sidecar.store.models import Execution

TOKEN = "3c9a0b1d2e3f405162738495a6b7c8d9e0"
SMALL = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"
LARGE = "stages:\n" + "".join(
    f"- name: Stage {s}\n  steps:\n" + "".join(
        f"  - runScriptConfig: {{image: 'golang:1.{s}', shellScript: 'go test ./p{s}/{i}'}}\n"
        for i in range(3)) for s in range(12))
ORDER = ["shop:api", "shop:web", "blog:api", "shop:cli", "shop:web", "blog:web",
         "shop:api", "shop:cli", "blog:api", "shop:web", "shop:api", "blog:web",
         "shop:cli", "shop:web", "blog:api", "shop:api", "blog:web", "shop:cli"]


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as jenkins:
        yield jenkins
    assert jenkins.errors == []


@pytest.fixture
def engine(store, fake, templates):
    with JenkinsClient(url=fake.url, user="sidecar", token=TOKEN) as client:
        yield Engine(store=store, jenkins=client, templates=templates, queue_wait=10)


@pytest.fixture
def triggered(store):
    """ORDER's executions, triggered one after the other: their ids in trigger order."""
    with store.session() as session:
        for project in ("shop", "blog"):
            projects.update_settings(session, project, {"executorQuota": 0})
        for pipeline_id in sorted(set(ORDER)):
            project, name = pipeline_id.split(":")
            pipelines.create(session, {"project": project, "name": name,
                                       "inlineConfig": LARGE if pipeline_id == "shop:api"
                                       else SMALL})
    ids = []
    for pipeline_id in ORDER:
        with store.session() as session:
            ids.append(executions.trigger(session, pipeline_id,
                                          executions.TriggerRequest()).id)
    return ids


def _queued(fake, project: str) -> list[str]:
    """Execution ids of the project's queue items, in the order Jenkins queued them."""
    return [item.parameters[EXECUTION_PARAMETER] for _, item in sorted(fake.queue.items())
            if item.job.startswith(f"sidecar.{project}.")]


def _of(ids: list[str], project: str) -> list[str]:
    return [i for i in ids if i.startswith(f"{project}:")]


def test_builds_are_queued_in_trigger_order_within_each_project(store, fake, engine,
                                                                triggered):
    assert engine.cycle().started == len(ORDER)
    for project in ("shop", "blog"):
        assert _queued(fake, project) == _of(triggered, project)
    with store.session() as session:
        for build in fake.builds.values():
            execution = executions.get(session, build.parameters[EXECUTION_PARAMETER])
            assert build.script == execution.jenkinsfile


def test_an_execution_that_cannot_start_holds_back_nothing(store, fake, engine, triggered):
    first = triggered[0]
    with store.session() as session:  # unreadable since it was triggered
        session.execute(update(Execution).where(Execution.id == first)
                        .values(parameters={"UNDECLARED": "\ud800"}))
    assert engine.cycle().started == len(ORDER) - 1
    assert _queued(fake, "shop") == _of(triggered, "shop")[1:]
    with store.session() as session:
        assert executions.get(session, first).state == "Failed"


def test_a_build_still_queued_keeps_its_script(store, templates):
    with FakeJenkins(auto_start=False, api_tokens={"sidecar": TOKEN}) as fake, \
            JenkinsClient(url=fake.url, user="sidecar", token=TOKEN) as client:
        engine = Engine(store=store, jenkins=client, templates=templates, queue_wait=0.2)
        with store.session() as session:
            projects.update_settings(session, "shop", {"executorQuota": 0})
            for name in ("api", "web"):
                pipelines.create(session, {"project": "shop", "name": name,
                                           "inlineConfig": SMALL})
        first = _trigger(store, "a" * 40)
        assert engine.cycle().started == 1  # in Jenkins' queue, which does not move
        second = _trigger(store, "b" * 40)
        with store.session() as session:
            other = executions.trigger(session, "shop:web", executions.TriggerRequest()).id
        for _ in range(2):
            assert engine.cycle().started == 0
            assert [item.parameters[EXECUTION_PARAMETER] for item in fake.queue.values()] \
                == [first]
        fake.start_queued()
        engine.cycle()  # follows the first item to its build
        assert engine.cycle().started == 2  # the second may write the job now, then web
        fake.start_queued()
        engine.cycle()
        assert _queued(fake, "shop") == [first, second, other]
        with store.session() as session:
            for execution_id, commit in ((first, "a" * 40), (second, "b" * 40)):
                execution = executions.get(session, execution_id)
                build = fake.builds[(execution.jenkins_job, execution.jenkins_build)]
                assert build.script == execution.jenkinsfile and commit in build.script


def _trigger(store, commit: str) -> str:
    with store.session() as session:
        return executions.trigger(session, "shop:api",
                                  executions.TriggerRequest(commit=commit)).id
