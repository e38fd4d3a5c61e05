"""Notifications: conditions, the outbox, retries, replicas, the API and its access rules.

We test these aspects, on SQLite and PostgreSQL unless said:
- the conditions against the previous finished run (table, as Jenkins' post conditions);
- a series of runs sends Changed, Regression, Failed, Fixed and Aborted, each once, to
  a signed webhook, and a second end of the same run adds no delivery;
- an approval that starts to wait (the engine following the fake Jenkins) sends Pending;
- a receiver answering 500 is retried and then Sent, the attempts and last error on the
  execution's native view; the last error holds no remote body;
- a template error sends the default message and is recorded; the run is unaffected;
- two senders racing on one PostgreSQL deliver each of 30 rows exactly once;
- a recipient naming a missing notifier is a 400 with the config position at
  registration and at trigger;
- notifiers: create, list, get, update (secret kept), delete; the secret is never
  returned; a token of another project gets 404, a read token 403 on writes.
"""

from __future__ import annotations

import json
import threading

import pytest
from fakes.jenkins import FakeJenkins
from notify_receivers import Receiver

from sidecar.app import create_app
from sidecar.engine.loop import Engine
from sidecar.engine.notify_loop import NotificationWorker
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.outbound import Client, Policy
from sidecar.services import executions, notifiers, pipelines
from sidecar.services.access import ANONYMOUS
from sidecar.services.notifications import end_conditions
from sidecar.store.models import NotificationDelivery

SECRET = "hook-secret-for-tests"
JENKINS_TOKEN = "11c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8c"
LOOPBACK = Client(Policy.parse("127.0.0.1/32"))
TOKENS = {"shop-writer": ("shop-token", "write", ["shop"]),
          "shop-reader": ("reader-token", "write", ["shop"]),
          "other": ("other-token", "write", ["other"]),
          "viewer": ("viewer-token", "read", ["shop"])}


def config(condition: str, message: str = "{{ pipeline }} {{ state }}", approval=False) -> str:
    stage = ("- name: Approve\n  steps:\n  - approvalConfig: {message: Ship?, submitters: [alice]}\n"
             if approval else "")
    return (f"notification:\n  recipients:\n  - {{recipient: portal, notifier: hook}}\n"
            f"  condition: {condition}\n  message: '{message}'\n"
            "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, "
            f"shellScript: make}}\n{stage}")


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def register(store, receiver, text: str) -> None:
    with store.session() as session:
        notifiers.create(session, {"project": "shop", "name": "hook", "type": "webhook",
                                   "url": receiver.url(), "secret": SECRET}, ANONYMOUS)
        pipelines.create(session, {"project": "shop", "name": "api", "inlineConfig": text})


def run_ending(store, state: str) -> str:
    with store.session() as session:
        execution = executions.trigger(session, "shop:api", executions.TriggerRequest())
        executions.finish(execution, state, "test")
        return execution.id


def deliveries(store, execution_id: str) -> list[dict]:
    with store.session() as session:
        return executions.view(executions.get(session, execution_id))["notifications"]


@pytest.mark.parametrize("state, previous, expected", [
    ("Success", None, {"Success", "Changed"}),
    ("Success", "Success", {"Success"}),
    ("Failed", "Success", {"Failed", "Changed", "Regression"}),
    ("Success", "Failed", {"Success", "Changed", "Fixed"}),
    ("Success", "Timeout", {"Success", "Changed", "Fixed"}),
    ("Success", "Aborted", {"Success", "Changed"}),  # ABORTED is not FAILURE: not fixed
    ("Aborted", "Failed", {"Aborted", "Changed", "Regression"}),
    ("Failed", "Aborted", {"Failed", "Changed"}),  # better than ABORTED: no regression
    ("Timeout", "Failed", {"Failed"}),
    ("Denied", "Aborted", {"Aborted"}),
])
def test_conditions_against_the_previous_run(state, previous, expected):
    assert end_conditions(state, previous) == expected


def test_each_end_condition_is_sent_once(store, receiver):
    register(store, receiver, config("[Fixed, Regression, Changed, Failed, Aborted]"))
    worker = NotificationWorker(store=store, client=LOOPBACK, backoff=0)
    sent = []
    for state in ("Success", "Failed", "Failed", "Success", "Success", "Aborted"):
        execution_id = run_ending(store, state)
        worker.cycle()
        sent.append([d["condition"] for d in deliveries(store, execution_id)])
    assert sent == [["Changed"], ["Regression"], ["Failed"], ["Fixed"], [], ["Regression"]]
    bodies = [r.json() for r in receiver.received]
    assert [b["condition"] for b in bodies] == ["Changed", "Regression", "Failed", "Fixed",
                                               "Regression"]
    assert [b["message"] for b in bodies][:2] == ["shop:api Success", "shop:api Failed"]
    with store.session() as session:  # the same end written again adds nothing
        execution = executions.get(session, "shop:api-2")
        executions.finish(execution, "Failed", "again")
    worker.cycle()
    assert len(receiver.received) == 5 and len(deliveries(store, "shop:api-2")) == 1


def test_a_500_is_retried_and_the_state_is_on_the_execution(store, receiver):
    register(store, receiver, config("[Failed]"))
    receiver.statuses = [500]
    execution_id = run_ending(store, "Failed")
    worker = NotificationWorker(store=store, client=LOOPBACK, backoff=0)
    worker.cycle()
    (first,) = deliveries(store, execution_id)
    assert (first["state"], first["attempts"]) == ("Queued", 1)
    assert first["lastError"] == "webhook: not delivered (HTTP 500)"  # not the body "boom"
    worker.cycle()
    (second,) = deliveries(store, execution_id)
    assert (second["state"], second["attempts"], second["lastError"]) == ("Sent", 2, None)
    first_id, second_id = (r.headers["X-Sidecar-Delivery"] for r in receiver.received)
    assert first_id == second_id == f"{execution_id}/Failed/hook"


def test_template_errors_fall_back_to_the_default_message(store, receiver):
    register(store, receiver, config("[Failed]", message="{{ pipeline.nope.deeper }}"))
    execution_id = run_ending(store, "Failed")
    NotificationWorker(store=store, client=LOOPBACK, backoff=0).cycle()
    (delivery,) = deliveries(store, execution_id)
    assert delivery["state"] == "Sent" and "UndefinedError" in delivery["templateError"]
    assert receiver.received[0].json()["message"].startswith("shop:api #1: Failed (Failed)")
    with store.session() as session:
        assert executions.get(session, execution_id).state == "Failed"


def test_two_senders_on_one_postgresql_send_each_row_once(database_url, store, receiver):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one engine; the race is between PostgreSQL replicas")
    register(store, receiver, config("[Failed, Success]"))
    for index in range(30):
        run_ending(store, "Failed" if index % 2 else "Success")
    workers = [NotificationWorker(store=store, client=LOOPBACK, backoff=0, batch=4)
               for _ in range(2)]
    start = threading.Barrier(2)

    def drain(worker):
        start.wait()
        while worker.cycle():
            pass
    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    ids = [r.headers["X-Sidecar-Delivery"] for r in receiver.received]
    assert len(ids) == 30 and len(set(ids)) == 30
    with store.session() as session:
        rows = session.query(NotificationDelivery).all()
        assert {(r.state, r.attempts) for r in rows} == {("Sent", 1)}


@pytest.fixture
def served(database_url, tmp_path, receiver, templates):
    tokens = tmp_path / "tokens.yml"
    tokens.write_text(json.dumps({"tokens": [
        {"user": user, "access": access, "projects": projects, "token": token}
        for user, (token, access, projects) in TOKENS.items()]}))
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": JENKINS_TOKEN}) as jenkins:
        app = create_app({"TESTING": True, "database_url": database_url,
                          "api_tokens_file": str(tokens), "jenkins_url": jenkins.url,
                          "jenkins_user": "sidecar", "jenkins_token": JENKINS_TOKEN})
        state = app.extensions["sidecar"]
        engine = Engine(store=state.store, jenkins=state.jenkins, templates=templates,
                        notify_backoff=0, outbound=LOOPBACK)
        yield app.test_client(), engine, state.store, jenkins
        state.jenkins.close()
        state.store.dispose()


def auth(user: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[user][0]}"}


def test_a_waiting_approval_sends_pending(served, receiver):
    client, engine, store, jenkins = served
    assert client.post("/api/v1/notifiers", headers=auth("shop-writer"), json={
        "project": "shop", "name": "hook", "type": "webhook", "url": receiver.url(),
        "secret": SECRET}).status_code == 201
    assert client.post("/api/v1/pipelines", headers=auth("shop-writer"), json={
        "project": "shop", "name": "api",
        "inlineConfig": config("[Pending]", approval=True)}).status_code == 201
    execution_id = client.post("/api/v1/pipelines/shop:api/executions", json={},
                               headers=auth("shop-writer")).json["id"]
    engine.cycle()
    (build,) = [b for b in jenkins.builds.values()
                if b.parameters.get(EXECUTION_PARAMETER) == execution_id]
    build.start_stage("step-0-0")
    build.finish_stage("step-0-0")
    build.start_stage("step-1-0")
    build.pause_for_input("Approval-1-0", "Ship?")
    engine.cycle()
    engine.cycle()
    (request,) = receiver.received
    body = request.json()
    assert body["condition"] == "Pending" and body["execution"]["state"] == "Pending"
    assert body["execution"]["approval"]["message"] == "Ship?"
    view = client.get(f"/api/v1/executions/{execution_id}", headers=auth("viewer")).json
    assert [(n["condition"], n["state"]) for n in view["notifications"]] == \
        [("Pending", "Sent")]


def test_unknown_notifier_is_a_400_with_its_position(served):
    client, *_ = served
    text = config("[Failed]")
    created = client.post("/api/v1/pipelines", headers=auth("shop-writer"), json={
        "project": "shop", "name": "api", "inlineConfig": text})
    assert created.status_code == 400
    (error,) = created.json["errors"]
    assert error["field"] == "notification.recipients[0].notifier"
    assert error["position"] == "inlineConfig:3:35" and "'hook'" in error["message"]
    assert client.post("/api/v1/pipelines", headers=auth("shop-writer"), json={
        "project": "shop", "name": "api"}).status_code == 201
    triggered = client.post("/api/v1/pipelines/shop:api/executions", headers=auth("shop-writer"),
                            json={"config": text})
    assert triggered.status_code == 400
    assert triggered.json["errors"][0]["position"] == "config:3:35"


def test_notifier_api_hides_secrets_and_other_projects(served, receiver, caplog):
    client, *_ = served
    body = {"project": "shop", "name": "hook", "type": "webhook", "url": receiver.url(),
            "secret": SECRET}
    created = client.post("/api/v1/notifiers", headers=auth("shop-writer"), json=body)
    assert created.status_code == 201 and created.json["hasSecret"] is True
    assert client.post("/api/v1/notifiers", headers=auth("shop-writer"),
                       json=body).status_code == 409
    assert client.post("/api/v1/notifiers", headers=auth("viewer"),
                       json={**body, "name": "x"}).status_code == 403
    assert client.post("/api/v1/notifiers", headers=auth("other"),
                       json={**body, "name": "x"}).status_code == 404
    changed = client.put("/api/v1/notifiers/shop/hook", headers=auth("shop-writer"),
                         json={"url": receiver.url("/v2")})
    assert changed.status_code == 200 and changed.json["hasSecret"] is True
    assert client.put("/api/v1/notifiers/shop/hook", headers=auth("shop-writer"),
                      json={"type": "slack"}).status_code == 400
    listed = client.get("/api/v1/notifiers?project=shop", headers=auth("viewer")).json
    assert [n["name"] for n in listed] == ["hook"] and listed[0]["url"] == \
        "http://127.0.0.1:%d/…" % receiver.port
    assert client.get("/api/v1/notifiers", headers=auth("other")).json == []
    for method in ("get", "put", "delete"):
        answer = getattr(client, method)("/api/v1/notifiers/shop/hook", headers=auth("other"),
                                         json={})
        assert answer.status_code == 404, method
        missing = getattr(client, method)("/api/v1/notifiers/shop/nope",
                                          headers=auth("shop-writer"), json={})
        assert missing.status_code == 404 and missing.json["message"] == \
            answer.json["message"].replace("hook", "nope")
    shown = json.dumps([created.json, changed.json, listed]) + caplog.text
    assert SECRET not in shown
    assert client.delete("/api/v1/notifiers/shop/hook",
                         headers=auth("shop-writer")).status_code == 204
    assert client.get("/api/v1/notifiers/shop/hook",
                      headers=auth("shop-writer")).status_code == 404
