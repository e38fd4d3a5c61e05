"""The engine against the fake Jenkins: admission, start, follow, logs, quota, concurrency.

We test these aspects, on SQLite and PostgreSQL:
- end to end: trigger -> the fake runs the build -> Success with every step state and
  time, archived logs equal to what Jenkins printed, the build ran exactly the
  execution's rendered Jenkinsfile, the node of its agent pod (fake Kubernetes API) is
  recorded, and the next execution's pod template prefers that node;
- an agent pod gone longer than the grace period fails its execution and stops the build;
- a Jenkins outage (503 or refused connections) fails nothing, and all runs finish;
- twenty executions of one pipeline started at the same moment each run their own script;
- fifty triggers with quota 3: never more than 3 Building/Pending, all end, started
  oldest first;
- a trigger that reached Jenkins before a crash is found again, not sent twice; one
  still queued is replaced, so it cannot run another execution's script; a run
  stopped while Jenkins was down is never started;
- a step or a run that used up its timeout ends in Timeout, a stop in Aborted;
- a failed step fails the execution; a stop request aborts the build; skipped steps
  stay Skipped.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import yaml
from fakes.jenkins import FakeJenkins
from fakes.kubernetes import FakeKubernetes
from sqlalchemy import func, select

from sidecar.engine.admission import admit
from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.jenkins import JenkinsClient
from sidecar.kube import EXECUTION_LABEL, PodLocator
from sidecar.render.naming import job_name, label_value
from sidecar.services import executions, pipelines, projects
from sidecar.store.models import Execution, LogChunk

TOKEN = "11c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8c"
CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}
  - runScriptConfig: {image: golang:1.23, shellScript: go vet ./...}
- name: Release
  when: {branch: [release/*]}
  steps:
  - runScriptConfig: {image: alpine, shellScript: ./release.sh}
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
def engine(store, fake, kube, templates):
    client = JenkinsClient(url=fake.url, user="sidecar", token=TOKEN)
    pods = PodLocator(namespace=kube.namespace, host=kube.url)
    yield Engine(store=store, jenkins=client, templates=templates, queue_wait=5, pods=pods,
                 pod_lost_grace=60)
    client.close()


def _pipeline(store, name="api", project="shop", quota=None):
    with store.session() as session:
        pipelines.create(session, {"project": project, "name": name, "inlineConfig": CONFIG})
        if quota is not None:
            projects.update_settings(session, project, {"executorQuota": quota})
    return f"{project}:{name}"


def _trigger(store, pipeline_id, **fields) -> str:
    with store.session() as session:
        return executions.trigger(session, pipeline_id, executions.TriggerRequest(**fields)).id


def _build_of(fake, execution_id):
    (build,) = [b for b in fake.builds.values()
                if b.parameters.get(EXECUTION_PARAMETER) == execution_id]
    return build


def _parameterized_job() -> str:
    """A job config.xml with the execution parameter, as one written before a crash."""
    return ("<flow-definition><properties><hudson.model.ParametersDefinitionProperty>"
            "<parameterDefinitions><hudson.model.StringParameterDefinition>"
            f"<name>{EXECUTION_PARAMETER}</name><defaultValue/>"
            "</hudson.model.StringParameterDefinition></parameterDefinitions>"
            "</hudson.model.ParametersDefinitionProperty></properties>"
            "<definition><script>before the crash</script></definition></flow-definition>")


def _run_build(build, *, failing: str | None = None):
    for name in ("step-0-0", "step-0-1"):
        build.start_stage(name)
        build.append_log(name, f"output of {name}\n")
        build.finish_stage(name, "FAILED" if name == failing else "SUCCESS")
    build.finish("FAILED" if failing else "SUCCESS")


def test_end_to_end_success(store, engine, fake, kube):
    pipeline_id = _pipeline(store)
    execution_id = _trigger(store, pipeline_id, commit="c" * 40, event="push")
    assert engine.cycle().started == 1
    kube.add_pod("agent-x1", {EXECUTION_LABEL: label_value(execution_id)}, node="node-7")
    build = _build_of(fake, execution_id)
    engine.cycle()
    _run_build(build)
    engine.cycle()
    with store.session() as session:
        execution = executions.get(session, execution_id)
        assert execution.state == "Success" and execution.ended_at is not None
        assert build.script == execution.jenkinsfile
        assert [(s.stage_index, s.step_index, s.state) for s in execution.steps] == [
            (0, 0, "Success"), (0, 1, "Success"), (1, 0, "Skipped")]
        assert all(s.started_at and s.ended_at for s in execution.steps[:2])
        logs = session.scalars(select(LogChunk).where(LogChunk.execution_id == execution_id)
                               .order_by(LogChunk.stage_index, LogChunk.step_index)).all()
        assert [(c.step_index, c.text) for c in logs] == [
            (0, "output of step-0-0\n"), (1, "output of step-0-1\n")]
        assert execution.pipeline.last_run_state == "Success"
        assert execution.node_name == "node-7"
    following = _trigger(store, pipeline_id)
    engine.cycle()
    with store.session() as session:
        pod = yaml.safe_load(executions.get(session, following).pod_yaml)
    terms = pod["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert terms == [{"weight": 100, "preference": {"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["node-7"]}]}}]


def test_lost_agent_pod_fails_the_execution_after_grace(store, engine, fake, kube):
    execution_id = _trigger(store, _pipeline(store))
    engine.cycle()
    kube.add_pod("agent-y1", {EXECUTION_LABEL: label_value(execution_id)}, node="node-3")
    engine.cycle()
    kube.delete_pod("agent-y1")
    engine.cycle()  # first seen missing: within the grace period
    with store.session() as session:
        execution = executions.get(session, execution_id)
        assert execution.state == "Building"
        execution.pod_missing_since = execution.pod_missing_since - timedelta(seconds=61)
    engine.cycle()
    with store.session() as session:
        execution = executions.get(session, execution_id)
        assert (execution.state, execution.reason) == ("Failed", "the agent pod disappeared")
    assert _build_of(fake, execution_id).stop_requested


def test_failure_and_stop(store, engine, fake):
    pipeline_id = _pipeline(store)
    failing, stopped = _trigger(store, pipeline_id), _trigger(store, pipeline_id)
    engine.cycle()
    _run_build(_build_of(fake, failing), failing="step-0-1")
    with store.session() as session:
        executions.request_stop(session, stopped)
    engine.cycle()
    engine.cycle()
    with store.session() as session:
        assert executions.get(session, failing).state == "Failed"
        assert executions.get(session, stopped).state == "Aborted"
    assert _build_of(fake, stopped).stop_requested


def test_twenty_simultaneous_executions_run_their_own_scripts(store, engine, fake):
    pipeline_id = _pipeline(store, quota=0)
    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(lambda _: _trigger(store, pipeline_id), range(20)))
    assert len(set(ids)) == 20
    engine.cycle()
    with store.session() as session:
        for execution_id in ids:
            assert _build_of(fake, execution_id).script == \
                executions.get(session, execution_id).jenkinsfile
    assert len({build.script for build in fake.builds.values()}) == 20


def test_quota_admits_oldest_first_and_never_exceeds(store, engine, fake):
    pipeline_id = _pipeline(store, quota=3)
    ids = [_trigger(store, pipeline_id) for _ in range(50)]
    started_order: list[str] = []
    for _ in range(60):
        engine.cycle()
        with store.session() as session:
            active = session.scalar(select(func.count()).select_from(Execution).where(
                Execution.state.in_(("Building", "Pending"))))
            assert active <= 3
        running = [b for b in fake.builds.values() if b.result is None]
        assert len(running) <= 3
        # Admission is oldest first; the builds of one batch start concurrently.
        batch = [b.parameters[EXECUTION_PARAMETER] for b in running]
        started_order += sorted(batch, key=lambda i: int(i.rsplit("-", 1)[1]))
        for build in running:
            _run_build(build)
        if len(started_order) == 50:
            break
    engine.cycle()
    assert started_order == ids
    with store.session() as session:
        assert {executions.get(session, i).state for i in ids} == {"Success"}


@pytest.mark.parametrize("outage", ["503", "refused"])
def test_jenkins_outage_fails_nothing(store, engine, fake, outage):
    pipeline_id = _pipeline(store, quota=0)
    running = _trigger(store, pipeline_id)
    engine.cycle()
    waiting = _trigger(store, pipeline_id)
    fake.fail_with(503) if outage == "503" else fake.refuse_connections()
    for _ in range(3):
        engine.cycle()
    with store.session() as session:
        assert executions.get(session, running).state == "Building"
        assert executions.get(session, waiting).state == "Building"
        assert executions.get(session, waiting).jenkins_queue_id is None
    _run_build(_build_of(fake, running))
    fake.recover()
    engine.cycle()
    _run_build(_build_of(fake, waiting))
    engine.cycle()
    with store.session() as session:
        assert executions.get(session, running).state == "Success"
        assert executions.get(session, waiting).state == "Success"
    assert len(fake.builds) == 2


def test_a_trigger_lost_in_a_crash_is_found_not_repeated(store, engine, fake):
    pipeline_id = _pipeline(store)
    execution_id = _trigger(store, pipeline_id)
    with store.session() as session:  # admitted, then the process died after triggering
        assert admit(session) == [execution_id]
    client = JenkinsClient(url=fake.url, user="sidecar", token=TOKEN)
    job = job_name(pipeline_id)
    client.create_or_update_job(job, _parameterized_job())
    client.trigger(job, {EXECUTION_PARAMETER: execution_id})
    engine.cycle()
    assert len(fake.builds) == 1
    with store.session() as session:
        execution = executions.get(session, execution_id)
        assert execution.jenkins_build == _build_of(fake, execution_id).number
    client.close()


def test_timeouts_are_told_from_stops(store, engine, fake):
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "slow", "inlineConfig": (
            "timeout: 30\nstages:\n- name: Build\n  steps:\n"
            "  - runScriptConfig: {image: a, shellScript: sleep 9999}\n    timeout: 10\n"
            "  - runScriptConfig: {image: a, shellScript: 'true'}\n")})
    step_timeout, run_timeout = _trigger(store, "shop:slow"), _trigger(store, "shop:slow")
    engine.cycle()
    build = _build_of(fake, step_timeout)
    build.start_stage("step-0-0")
    fake.clock.tick(10 * 60_000)
    build.finish_stage("step-0-0", "ABORTED")
    build.finish("ABORTED")
    slow = _build_of(fake, run_timeout)
    slow.start_stage("step-0-1")
    fake.clock.tick(30 * 60_000)
    slow.finish("ABORTED")
    engine.cycle()
    with store.session() as session:
        first = executions.get(session, step_timeout)
        assert (first.state, first.steps[0].state) == ("Timeout", "Timeout")
        second = executions.get(session, run_timeout)
        assert (second.state, second.steps[1].state) == ("Timeout", "Aborted")


def test_stop_while_jenkins_is_down_never_starts_the_build(store, engine, fake):
    execution_id = _trigger(store, _pipeline(store))
    fake.refuse_connections()
    engine.cycle()  # admitted, but Jenkins cannot be reached
    with store.session() as session:
        assert executions.request_stop(session, execution_id).stop_requested
    fake.recover()
    engine.cycle()
    engine.cycle()
    with store.session() as session:
        assert executions.get(session, execution_id).state == "Aborted"
    assert fake.builds == {}


def test_a_trigger_still_queued_after_a_crash_is_replaced(store, engine, fake):
    pipeline_id = _pipeline(store, quota=0)
    lost = _trigger(store, pipeline_id)
    with store.session() as session:  # admitted, triggered, then the process died
        assert admit(session) == [lost]
    fake.auto_start = False
    with JenkinsClient(url=fake.url, user="sidecar", token=TOKEN) as client:
        client.create_or_update_job(job_name(pipeline_id), _parameterized_job())
        stale = client.trigger(job_name(pipeline_id), {EXECUTION_PARAMETER: lost})
    fake.auto_start = True
    newer = _trigger(store, pipeline_id)
    engine.cycle()
    assert fake.queue[stale].cancelled
    with store.session() as session:
        for execution_id in (lost, newer):
            assert _build_of(fake, execution_id).script == \
                executions.get(session, execution_id).jenkinsfile
