"""When an agent pod counts as lost: the run fails only for a pod of its current scope.

We test these aspects, on SQLite and PostgreSQL, with the engine against the fake Jenkins
and the fake Kubernetes API (a grace of 60 s; the missing mark is aged by hand):
- a run whose first agent pod went away before the engine saw it pause for an approval
  is not failed after the approval however long it waited: the approval ends the scope
  and its missing mark, and the build is not stopped;
- the next scope's pod waiting for a node (an autoscaler adding one) past the grace is
  there, not lost;
- a pod that failed and stays listed (evicted) is gone: after the grace the run fails
  and its build is stopped.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.jenkins import FakeJenkins
from fakes.kubernetes import FakeKubernetes

from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.jenkins import JenkinsClient
from sidecar.kube import EXECUTION_LABEL, PodLocator
from sidecar.render.naming import label_value
from sidecar.services import approvals, executions, pipelines
from sidecar.services.access import Principal
from sidecar.services.delivery import deliver

TOKEN = "5d1e9a7c3b2f4e6a8c0b1d3f5e7a9c2b4d"
CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}
- name: Approve
  steps:
  - approvalConfig: {id: go, message: Ship?, timeout: 120, submitters: [alice]}
- name: Deploy
  steps:
  - runScriptConfig: {image: alpine, shellScript: ./deploy.sh}
"""


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as jenkins:
        yield jenkins


@pytest.fixture
def kube():
    with FakeKubernetes() as api:
        yield api


@pytest.fixture
def client(fake):
    with JenkinsClient(url=fake.url, user="sidecar", token=TOKEN) as jenkins:
        yield jenkins


@pytest.fixture
def engine(store, client, kube, templates):
    return Engine(store=store, jenkins=client, templates=templates, queue_wait=5,
                  pods=PodLocator(namespace=kube.namespace, host=kube.url), pod_lost_grace=60)


@pytest.fixture
def run(store, engine, fake, kube):
    """A started run of shop:api whose first agent pod (agent-1, node-1) was listed."""
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "api", "inlineConfig": CONFIG})
        execution_id = executions.trigger(session, "shop:api", executions.TriggerRequest()).id
    engine.cycle()
    (build,) = [b for b in fake.builds.values()
                if b.parameters.get(EXECUTION_PARAMETER) == execution_id]
    kube.add_pod("agent-1", _labels(execution_id), node="node-1")
    build.start_stage("step-0-0")
    engine.cycle()
    return execution_id, build


def _labels(execution_id: str) -> dict[str, str]:
    return {EXECUTION_LABEL: label_value(execution_id)}


def _state(store, execution_id: str) -> tuple[str, str]:
    with store.session() as session:
        execution = executions.get(session, execution_id)
        return execution.state, execution.reason


def _age_mark(store, execution_id: str, seconds: float = 61) -> None:
    with store.session() as session:
        execution = executions.get(session, execution_id)
        if execution.pod_missing_since is not None:
            execution.pod_missing_since -= timedelta(seconds=seconds)


def _approve(store, client, execution_id: str) -> None:
    with store.session() as session:
        (approval,) = approvals.of_execution(session, execution_id)
        approvals.decide(session, approval.id, Principal("alice", access="write"),
                         approve=True, parameters={}, comment="")
    assert deliver(store, client, approval.id)


def test_an_approval_ends_the_scope_and_its_missing_mark(store, engine, client, kube, run):
    execution_id, build = run
    build.finish_stage("step-0-0")
    kube.delete_pod("agent-1")  # the scope ended; the engine has not seen the pause yet
    engine.cycle()
    assert _state(store, execution_id)[0] == "Building"
    build.start_stage("step-1-0")
    build.pause_for_input("Go", "Ship?")
    engine.cycle()
    assert _state(store, execution_id)[0] == "Pending"
    _age_mark(store, execution_id)  # the approval waited longer than the grace
    _approve(store, client, execution_id)
    build.finish_stage("step-1-0")
    build.start_stage("step-2-0")  # agent-2 is being provisioned
    engine.cycle()
    _age_mark(store, execution_id)
    engine.cycle()
    assert _state(store, execution_id) == ("Building", "")
    assert not build.stop_requested


def test_a_pod_waiting_for_a_node_is_not_lost(store, engine, kube, run):
    execution_id, _ = run
    kube.delete_pod("agent-1")
    kube.add_pod("agent-1b", _labels(execution_id), node=None, phase="Pending")
    for _ in range(3):
        engine.cycle()
        _age_mark(store, execution_id)
    assert _state(store, execution_id)[0] == "Building"


def test_an_evicted_pod_is_lost(store, engine, kube, run):
    execution_id, build = run
    kube.add_pod("agent-1", _labels(execution_id), node="node-1", phase="Failed")
    engine.cycle()  # first seen gone: within the grace
    assert _state(store, execution_id)[0] == "Building"
    _age_mark(store, execution_id)
    engine.cycle()
    assert _state(store, execution_id) == ("Failed", "the agent pod disappeared")
    assert build.stop_requested
