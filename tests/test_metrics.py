"""/metrics after runs through the fake Jenkins: every family present, and moving.

We test these aspects, on SQLite and PostgreSQL:
- three runs of a cached pipeline with an approval and notifications, a refused webhook
  and API calls: every family the README lists is in the scrape, parsed with
  prometheus_client's own parser, and has moved (counters and histograms up; the
  database's gauges show the pending approval, its age, the sync lag, the outbox);
- the engine reports itself leader while it runs, and not after;
- no label value carries a project, pipeline or run (bounded labels): HTTP routes and
  Jenkins endpoints are templates;
- a run's end is counted when its transaction commits, not when it rolls back;
- Jenkins paths become bounded endpoint templates (table).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fakes.jenkins import FakeJenkins
from notify_receivers import Receiver
from prometheus_client.parser import text_string_to_metric_families
from same_origin import SameOriginClient
from sqlalchemy import update

from sidecar.app import create_app
from sidecar.engine import process
from sidecar.engine.process import build_engine
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.metrics.record import jenkins_endpoint
from sidecar.services import executions
from sidecar.store.models import Approval, Execution, utcnow

JENKINS_TOKEN = "11c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8c"
SECRET = "hook-secret-for-metrics"
CONFIG = """
notification:
  recipients: [{recipient: portal, notifier: hook}]
  condition: [Success, Pending]
  message: '{{ pipeline }} {{ state }}'
stages:
- name: Build
  cache: {enabled: true, paths: [/root/.gradle]}
  steps:
  - runScriptConfig: {image: gradle:8, shellScript: gradle build}
- name: Approve
  steps:
  - approvalConfig: {message: Ship?, submitters: [anonymous]}
"""
PLAIN = "stages:" + CONFIG.split("stages:", 1)[1]
COUNTERS = ("sidecar_runs_started", "sidecar_runs_finished", "sidecar_cache_placements",
            "sidecar_jenkins_request_errors", "sidecar_webhooks_received",
            "sidecar_webhooks_rejected", "sidecar_notification_deliveries")
HISTOGRAMS = ("sidecar_run_duration_seconds", "sidecar_run_queue_duration_seconds",
              "sidecar_stage_duration_seconds", "sidecar_approval_wait_seconds",
              "sidecar_cache_hold_duration_seconds", "sidecar_jenkins_request_duration_seconds",
              "sidecar_sync_cycle_duration_seconds", "sidecar_http_request_duration_seconds")
GAUGES = ("sidecar_executions", "sidecar_approvals_pending",
          "sidecar_approval_oldest_pending_seconds", "sidecar_sync_lag_seconds",
          "sidecar_notification_outbox", "sidecar_engine_leader")


def scrape(client) -> dict:
    """The families of one GET /metrics, by name."""
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(answer.get_data(as_text=True))}


def value(families: dict, family: str, suffix: str = "", **labels) -> float:
    """The sum of a family's samples named family+suffix whose labels include labels."""
    if family not in families:
        return 0.0
    return sum(s.value for s in families[family].samples if s.name == family + suffix
               and all(s.labels.get(k) == v for k, v in labels.items()))


def moved(before: dict, after: dict, family: str, suffix: str, **labels) -> bool:
    return value(before, family, suffix, **labels) < value(after, family, suffix, **labels)


class OneCycle:
    """A stop event for the engine process: one cycle, then `during` runs while it leads."""

    def __init__(self, during):
        self._during, self._done = during, threading.Event()

    def is_set(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout) -> bool:
        if threading.current_thread() is threading.main_thread():  # the cycle loop
            self._during()
            self._done.set()
        else:  # the lease renewer
            self._done.wait(timeout)
        return self._done.is_set()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def world(database_url, receiver):
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": JENKINS_TOKEN}) as jenkins:
        app = create_app({"TESTING": True, "database_url": database_url,
                          "jenkins_url": jenkins.url, "jenkins_user": "sidecar",
                          "jenkins_token": JENKINS_TOKEN, "outbound_allow": "127.0.0.1/32",
                          "kubernetes_api": "off", "sync_reconcile": 0})
        app.test_client_class = SameOriginClient
        state = app.extensions["sidecar"]
        yield (app.test_client(), build_engine(state.settings, state.store, state.jenkins),
               state.store, jenkins)
        state.jenkins.close()
        state.store.dispose()


def _trigger(client) -> str:
    answer = client.post("/api/v1/pipelines/shop:build/executions", json={})
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def _build(jenkins, execution_id):
    (build,) = [b for b in jenkins.builds.values()
                if b.parameters.get(EXECUTION_PARAMETER) == execution_id]
    return build


def _backdate(store, table, key, column: str, seconds: float) -> None:
    with store.session() as session:
        session.execute(update(table).where(key).values(
            {column: utcnow() - timedelta(seconds=seconds)}))


def _paused_first_run(client, engine, store, jenkins) -> str:
    """Run 1 pauses on its approval; the approval and the last look are backdated."""
    first = _trigger(client)
    engine.cycle()
    build = _build(jenkins, first)
    build.start_stage("step-0-0")
    build.finish_stage("step-0-0")
    build.start_stage("step-1-0")
    build.pause_for_input("Approval-1-0", "Ship?")
    engine.cycle()
    _backdate(store, Approval, Approval.execution_id == first, "created_at", 60)
    _backdate(store, Execution, Execution.id == first, "detailed_at", 100)
    return first


def _approve_and_finish(client, engine, store, jenkins, first) -> None:
    (approval,) = client.get("/api/v1/approvals").json
    assert client.post(f"/api/v1/approvals/{approval['id']}/decision",
                       json={"approve": True}).status_code == 200
    engine.cycle()
    build = _build(jenkins, first)
    build.finish_stage("step-1-0")
    build.finish("SUCCESS")
    engine.cycle()
    with store.session() as session:  # it ran 10 minutes on node-1: its slot 0 is warm
        execution = executions.get(session, first)
        assert execution.state == "Success"
        execution.started_at = execution.ended_at - timedelta(seconds=600)
        executions.record_node(session, execution, "node-1", "test")
        execution.cache_slot = 0


def _held_third_run(client, engine, store, jenkins) -> None:
    """Run 2 takes the warm slot; run 3 is held for it, then starts warm once it frees."""
    second = _trigger(client)
    engine.cycle()
    with store.session() as session:  # run 2 holds node-1's warm slot and is nearly done
        execution = executions.get(session, second)
        execution.started_at = utcnow() - timedelta(seconds=590)
        executions.record_node(session, execution, "node-1", "test")
        execution.cache_slot = 0
    third = _trigger(client)
    engine.cycle()
    with store.session() as session:
        held = executions.get(session, third)
        assert held.held_since is not None, held.placement_note
    _build(jenkins, second).finish("SUCCESS")
    engine.cycle()  # admission before following: still held; then run 2 ends
    engine.cycle()
    with store.session() as session:
        assert executions.get(session, third).state == "Building"


def test_every_family_is_present_and_moves_after_runs(world, receiver):
    client, engine, store, jenkins = world
    before = scrape(client)
    assert client.post("/api/v1/notifiers", json={
        "project": "shop", "name": "hook", "type": "webhook", "url": receiver.url(),
        "secret": SECRET}).status_code == 201
    assert client.post("/api/v1/pipelines", json={
        "project": "shop", "name": "build", "inlineConfig": CONFIG}).status_code == 201
    first = _paused_first_run(client, engine, store, jenkins)
    waiting = scrape(client)
    assert value(waiting, "sidecar_approvals_pending") == 1
    assert value(waiting, "sidecar_approval_oldest_pending_seconds") >= 60
    assert value(waiting, "sidecar_sync_lag_seconds") >= 100
    assert value(waiting, "sidecar_executions", state="Pending") == 1
    _approve_and_finish(client, engine, store, jenkins, first)
    _held_third_run(client, engine, store, jenkins)
    assert client.post("/hooks/github?pipeline=shop:build", data=b"{}", headers={
        "X-Hub-Signature-256": "sha256=00", "X-GitHub-Event": "push"}).status_code == 401
    leading = []
    settings = client.application.extensions["sidecar"].settings
    assert process.run(settings, "metrics-test", OneCycle(
        lambda: leading.append(scrape(client)))) == 0
    after = scrape(client)

    for family in (*COUNTERS, *HISTOGRAMS, *GAUGES):
        assert family in after, family
    for family in COUNTERS:
        assert moved(before, after, family, "_total"), family
    for family in HISTOGRAMS:
        assert moved(before, after, family, "_count"), family
    for placement in ("cold", "warm", "held"):
        assert moved(before, after, "sidecar_cache_placements", "_total", placement=placement)
    assert moved(before, after, "sidecar_runs_finished", "_total", result="Success")
    assert moved(before, after, "sidecar_webhooks_rejected", "_total", provider="github",
                 reason="signature")
    assert moved(before, after, "sidecar_notification_deliveries", "_total", state="sent")
    assert moved(before, after, "sidecar_approval_wait_seconds", "_sum", decision="Approved")
    assert moved(before, after, "sidecar_jenkins_request_errors", "_total", kind="not_found")
    assert moved(before, waiting, "sidecar_approvals_pending", "")
    assert moved(before, after, "sidecar_executions", "", state="Success")
    assert moved(before, after, "sidecar_notification_outbox", "", state="Sent")
    assert value(leading[0], "sidecar_engine_leader") == 1
    assert value(after, "sidecar_engine_leader") == 0
    assert value(before, "sidecar_engine_leader") < value(leading[0], "sidecar_engine_leader")


def test_labels_are_templates_never_names_or_ids(world):
    client, engine, store, jenkins = world
    assert client.post("/api/v1/pipelines", json={
        "project": "acme-tenant", "name": "secret-app", "inlineConfig": PLAIN}).status_code == 201
    execution_id = client.post("/api/v1/pipelines/acme-tenant:secret-app/executions",
                               json={}).json["id"]
    engine.cycle()
    assert client.get(f"/api/v1/executions/{execution_id}").status_code == 200
    assert client.get("/no/such/page/acme-tenant-secret-app-1").status_code == 404
    families = scrape(client)
    labels = {v for f in families.values() for s in f.samples for v in s.labels.values()}
    assert not [v for v in labels if "acme" in v or "secret-app" in v], labels
    routes = {s.labels["route"] for s in families["sidecar_http_request_duration_seconds"].samples}
    assert {"/api/v1/executions/<execution_id>", "other"} <= routes
    endpoints = {s.labels["endpoint"]
                 for s in families["sidecar_jenkins_request_duration_seconds"].samples}
    assert "/job/{job}/buildWithParameters" in endpoints


def test_an_end_counts_once_its_transaction_commits(store):
    from sidecar.services import pipelines

    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": "build", "inlineConfig": PLAIN})
        execution_id = executions.trigger(session, "shop:build", executions.TriggerRequest()).id

    def aborted_count() -> float:
        from sidecar.metrics import families
        return families.RUNS_FINISHED.labels("Aborted")._value.get()

    start = aborted_count()
    with pytest.raises(RuntimeError), store.session() as session:
        executions.finish(executions.get(session, execution_id), "Aborted")
        raise RuntimeError("the commit never happens")
    assert aborted_count() == start
    with store.session() as session:
        execution = executions.get(session, execution_id)
        with pytest.raises(RuntimeError), session.begin_nested():
            executions.finish(execution, "Aborted")
            raise RuntimeError("the savepoint rolls back")
    assert aborted_count() == start
    with store.session() as session:
        executions.finish(executions.get(session, execution_id), "Aborted")
        assert aborted_count() == start  # not before the commit
    assert aborted_count() == start + 1


@pytest.mark.parametrize("path, endpoint", [
    ("/job/shop.build/api/json", "/job/{job}/api/json"),
    ("/job/team/job/app/42/wfapi/describe", "/job/{job}/{n}/wfapi/describe"),
    ("/job/a/7/execution/node/13/log/logText/progressiveText",
     "/job/{job}/{n}/execution/node/{node}/log/logText/progressiveText"),
    ("/job/a/7/input/Approval-1-0/proceed", "/job/{job}/{n}/input/{input}/proceed"),
    ("/queue/item/991/api/json", "/queue/item/{n}/api/json"),
    ("/computer/api/json", "/computer/api/json"),
    ("/createItem", "/createItem"),
])
def test_jenkins_paths_become_endpoint_templates(path, endpoint):
    assert jenkins_endpoint(path) == endpoint
