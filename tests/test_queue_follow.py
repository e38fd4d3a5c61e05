"""Following a run from Jenkins' queue to its build, also when Jenkins forgot the item.

Jenkins keeps a queue item for about five minutes after it left the queue, and none
across its own restart. We test these aspects, on SQLite and PostgreSQL, with the engine
against the fake Jenkins:
- the engine was away while its run's item left the queue and was forgotten: the
  restarted engine finds the build by the run's execution id and follows it to its end
  (no run failed while its build goes on untracked);
- an item forgotten with no build of the run anywhere fails the run, saying so;
- a build that has just left the queue, whose flow has not begun (wfapi says
  NOT_EXECUTED, as it does for a build that ended before its flow began), is followed
  on while Jenkins says it is building, and ends Aborted once it is not;
- a Jenkins that answers 404 for everything (a proxy sending the sidecar elsewhere) fails
  no run, as an outage; a build deleted from a Jenkins that answers fails its run.
"""

from __future__ import annotations

import pytest
from fakes import jenkins_model
from fakes.jenkins import FakeJenkins

from sidecar.engine.loop import Engine
from sidecar.jenkins import JenkinsClient
from sidecar.services import executions, pipelines

TOKEN = "8e2b4d6f0a1c3e5b7d9f2a4c6e8b0d1f3a"
CONFIG = ("stages:\n- name: Build\n  steps:\n"
          "  - runScriptConfig: {image: alpine, shellScript: make}\n")


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=False, api_tokens={"sidecar": TOKEN}) as jenkins:
        yield jenkins


@pytest.fixture
def client(fake):
    with JenkinsClient(url=fake.url, user="sidecar", token=TOKEN) as jenkins:
        yield jenkins


@pytest.fixture
def queued(store, client, templates):
    """A run triggered in Jenkins, its item still waiting: (execution id, queue id)."""
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "api", "inlineConfig": CONFIG})
        execution_id = executions.trigger(session, "shop:api", executions.TriggerRequest()).id
    _engine(store, client, templates).cycle()
    with store.session() as session:
        return execution_id, executions.get(session, execution_id).jenkins_queue_id


def _engine(store, client, templates) -> Engine:
    return Engine(store=store, jenkins=client, templates=templates, queue_wait=0.2)


def _state(store, execution_id: str) -> tuple[str, str, int | None]:
    with store.session() as session:
        execution = executions.get(session, execution_id)
        return execution.state, execution.reason, execution.jenkins_build


def test_a_forgotten_item_is_found_by_its_build(store, fake, client, templates, queued):
    execution_id, queue_id = queued
    (build,) = fake.start_queued()  # while the engine is away
    fake.forget_queue_item(queue_id)
    engine = _engine(store, client, templates)  # restarted
    engine.cycle()
    assert _state(store, execution_id) == ("Building", "", build.number)
    for stage in build.stages:
        build.start_stage(stage)
        build.finish_stage(stage)
    build.finish("SUCCESS")
    engine.cycle()
    assert _state(store, execution_id)[0] == "Success"


def test_an_item_forgotten_without_a_build_fails_the_run(store, fake, client, templates,
                                                         queued):
    execution_id, queue_id = queued
    fake.forget_queue_item(queue_id)
    _engine(store, client, templates).cycle()
    assert _state(store, execution_id)[:2] == ("Failed", "the Jenkins queue item disappeared")


def test_a_build_whose_flow_has_not_begun_is_followed_on(store, fake, client, templates,
                                                         queued, monkeypatch):
    execution_id, _ = queued
    real = jenkins_model.FakeBuild.describe_json
    monkeypatch.setattr(jenkins_model.FakeBuild, "describe_json",
                        lambda build: {**real(build), "status": "NOT_EXECUTED", "stages": []})
    (build,) = fake.start_queued()
    engine = _engine(store, client, templates)
    engine.cycle()
    engine.cycle()
    assert _state(store, execution_id) == ("Building", "", build.number)
    build.finish("ABORTED")  # ended before its flow began
    engine.cycle()
    assert _state(store, execution_id)[:2] == ("Aborted", "Jenkins reported NOT_EXECUTED")


def test_404_everywhere_fails_nothing_but_a_deleted_build_fails_its_run(
        store, fake, client, templates, queued):
    execution_id, _ = queued
    (build,) = fake.start_queued()
    engine = _engine(store, client, templates)
    engine.cycle()
    fake.fail_with(404)
    engine.cycle()
    engine.cycle()
    assert _state(store, execution_id) == ("Building", "", build.number)
    fake.recover()
    del fake.builds[(build.job, build.number)]
    engine.cycle()
    assert _state(store, execution_id)[:2] == ("Failed", "the Jenkins build disappeared")
