"""Approvals end to end: the engine, the fake Jenkins, the native API and a webhook receiver.

We test these aspects, on SQLite and PostgreSQL:
- a run paused on its input gets exactly one Approval (across cycles and a restarted
  engine) with Jenkins' capitalised input id, and the execution is Pending;
- the process centre receives one signed webhook (HMAC verified here) with the links
  to decide; a failing receiver is retried with a bounded number of attempts;
- a non-submitter and a read-only token get 403; a listed user, and a member of a
  listed group, approve; Jenkins' proceed gets the parameters; the run ends Success;
  a second decision is 409; the audit fields keep who, when, parameters and comment;
- a rejection ends the run Denied; the approval's timeout ends it Timeout, whether the
  engine aborts the input or Jenkins' own timeout fires — also when the sidecar saw the
  pause begin late (Jenkins' clock, not the sidecar's, says the input lasted it);
- a decision made while Jenkins is down is kept and delivered once it is back;
- an approval without submitters is open to any write token; bad decisions are 400;
  of sixteen concurrent decisions exactly one wins;
- webhook settings are checked; the secret is in no repr or error message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fakes.jenkins import FakeJenkins
from fakes.jenkins_model import InputAnswer
from sqlalchemy import func, select, update

from sidecar import outbound
from sidecar.app import create_app
from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER
from sidecar.errors import ConfigError
from sidecar.notify import SIGNATURE_HEADER, NotifyError, WebhookSender
from sidecar.services import approvals, executions, pipelines
from sidecar.services.access import Principal
from sidecar.services.pipelines import Conflict
from sidecar.settings import settings_from
from sidecar.store.models import Approval, utcnow

JENKINS_TOKEN = "11c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8c"
SECRET = "centre-shared-secret"
TOKENS = {"alice": ("alice-token", [], "write"),
          "bob": ("bob-token", ["release-managers"], "write"),
          "carol": ("carol-token", ["developers"], "write"),
          "reader": ("reader-token", [], "read")}
CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}
- name: Approve production
  steps:
  - approvalConfig:
      id: deploy-to-prod
      message: Deploy to prod?
      ok: Ship it
      submitters: [alice, release-managers]
      timeout: 120
      parameters:
      - {name: TARGET, type: choice, choices: [eu-west, us-east], default: us-east}
      - {name: CANARY, type: boolean, default: true}
      - {name: NOTE, description: Release note}
- name: Deploy
  steps:
  - runScriptConfig: {image: alpine, shellScript: ./deploy.sh}
"""
INPUT = "Deploy-to-prod"


class Receiver:
    """A local HTTP server standing in for the process centre; answers `status`."""

    def __init__(self):
        self.received: list[tuple[dict, bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/sidecar"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": JENKINS_TOKEN}) as jenkins:
        yield jenkins


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def world(database_url, tmp_path, fake, receiver, templates):
    """(app client, engine, store, fake Jenkins) with bearer tokens and a webhook receiver."""
    tokens = tmp_path / "tokens.yml"
    tokens.write_text(json.dumps({"tokens": [
        {"user": user, "groups": groups, "access": access, "token": token}
        for user, (token, groups, access) in TOKENS.items()]}))
    app = create_app({"TESTING": True, "database_url": database_url,
                      "api_tokens_file": str(tokens), "jenkins_url": fake.url,
                      "jenkins_user": "sidecar", "jenkins_token": JENKINS_TOKEN,
                      "public_url": "https://sidecar.example"})
    state = app.extensions["sidecar"]
    sender = WebhookSender(url=receiver.url, secret=SECRET,
                           client=outbound.Client(outbound.Policy.parse("127.0.0.1/32")))
    engine = Engine(store=state.store, jenkins=state.jenkins, templates=templates,
                    notifier=sender, public_url="https://sidecar.example", notify_backoff=0)
    yield app.test_client(), engine, state.store, fake
    sender.close()
    state.jenkins.close()
    state.store.dispose()


def paused_run(world, config=CONFIG, pipeline="api"):
    """Trigger, start and pause a run on its approval; returns (execution id, build)."""
    _, engine, store, fake = world
    with store.session() as session:
        pipelines.create(session, {"project": "shop", "name": pipeline, "inlineConfig": config})
        execution_id = executions.trigger(session, f"shop:{pipeline}",
                                          executions.TriggerRequest()).id
    engine.cycle()
    (build,) = [b for b in fake.builds.values()
                if b.parameters.get(EXECUTION_PARAMETER) == execution_id]
    build.start_stage("step-0-0")
    build.finish_stage("step-0-0")
    build.start_stage("step-1-0")
    build.pause_for_input(INPUT, "Deploy to prod?", ok="Ship it",
                          parameters={"TARGET": "eu-west", "CANARY": "true", "NOTE": ""})
    engine.cycle()
    return execution_id, build


def finish_run(build):
    build.finish_stage("step-1-0")
    build.start_stage("step-2-0")
    build.finish_stage("step-2-0")
    build.finish("SUCCESS")


def auth(user):
    return {"Authorization": f"Bearer {TOKENS[user][0]}"}


def decide(client, approval_id, user, **body):
    return client.post(f"/api/v1/approvals/{approval_id}/decision", json=body,
                       headers=auth(user))


def state_of(store, execution_id):
    with store.session() as session:
        return executions.get(session, execution_id).state


def only_approval(client):
    (approval,) = client.get("/api/v1/approvals", headers=auth("reader")).json
    return approval


def test_pause_records_one_approval_and_one_signed_webhook(world, receiver, templates):
    client, engine, store, _ = world
    execution_id, _ = paused_run(world)
    engine.cycle()
    Engine(store=store, jenkins=world[1]._jenkins, templates=templates).cycle()  # a restart
    assert state_of(store, execution_id) == "Pending"
    approval = only_approval(client)
    assert approval["executionId"] == execution_id and approval["state"] == "Pending"
    assert (approval["inputId"], approval["jenkinsInputId"]) == ("deploy-to-prod", INPUT)
    assert approval["submitters"] == ["alice", "release-managers"]
    assert [p["name"] for p in approval["parameters"]] == ["TARGET", "CANARY", "NOTE"]
    assert approval["ok"] == "Ship it" and approval["stageName"] == "Approve production"
    assert approval["notifiedAt"] is not None and approval["notifyAttempts"] == 1
    (headers, body), = receiver.received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    assert headers["X-Sidecar-Delivery"] == f"approval-{approval['id']}"
    assert headers["X-Sidecar-Timestamp"].isdigit()
    payload = json.loads(body)
    assert payload["id"] == approval["id"] and payload["pipelineId"] == "shop:api"
    assert payload["run"] == 1 and (payload["stage"], payload["step"]) == (1, 0)
    assert payload["message"] == "Deploy to prod?" and payload["timeoutAt"]
    assert payload["links"]["decision"] == \
        f"https://sidecar.example/api/v1/approvals/{approval['id']}/decision"
    assert payload["links"]["blueOcean"] == ("https://sidecar.example/blue/rest/organizations/"
                                             "jenkins/pipelines/sidecar.shop.api/runs/1/steps/"
                                             "step-1-0/")
    assert SECRET not in body.decode()
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Approval)) == 1


@pytest.mark.parametrize("user", ["alice", "bob"], ids=["listed-user", "listed-group"])
def test_submitter_approves_and_the_run_succeeds(world, user):
    client, engine, store, _ = world
    execution_id, build = paused_run(world)
    approval_id = only_approval(client)["id"]
    assert decide(client, approval_id, "carol", approve=True).status_code == 403
    assert decide(client, approval_id, "reader", approve=True).status_code == 403
    assert build.answers == []
    answer = decide(client, approval_id, user, approve=True, comment="looks good",
                    parameters={"TARGET": "eu-west", "CANARY": False})
    assert answer.status_code == 200, answer.json
    assert answer.json["state"] == "Approved" and answer.json["delivered"] is True
    assert build.answers == [InputAnswer(INPUT, "proceed", {"TARGET": "eu-west",
                                                            "CANARY": False, "NOTE": ""})]
    assert decide(client, approval_id, user, approve=False).status_code == 409
    finish_run(build)
    engine.cycle()
    assert state_of(store, execution_id) == "Success"
    kept = client.get(f"/api/v1/approvals/{approval_id}", headers=auth("reader")).json
    assert kept["decidedBy"] == user and kept["decidedAt"] is not None
    assert kept["decision"]["comment"] == "looks good" and kept["decision"]["approve"] is True
    assert kept["decision"]["parameters"] == {"TARGET": "eu-west", "CANARY": False, "NOTE": ""}
    assert len(build.answers) == 1


def test_rejection_ends_the_run_denied(world):
    client, engine, store, _ = world
    execution_id, build = paused_run(world)
    approval_id = only_approval(client)["id"]
    answer = decide(client, approval_id, "bob", approve=False, comment="not today")
    assert answer.status_code == 200 and answer.json["state"] == "Rejected"
    assert build.answers == [InputAnswer(INPUT, "abort", {})]
    engine.cycle()
    with store.session() as session:
        execution = executions.get(session, execution_id)
        assert execution.state == "Denied"
        assert [s.state for s in execution.steps] == ["Success", "Denied", "Skipped"]
    kept = client.get(f"/api/v1/approvals/{approval_id}", headers=auth("reader")).json
    assert (kept["decidedBy"], kept["decision"]["comment"]) == ("bob", "not today")


def _expire(store):
    with store.session() as session:
        session.execute(update(Approval).values(timeout_at=utcnow() - timedelta(seconds=1)))


def test_the_engine_aborts_an_expired_approval_and_the_run_times_out(world):
    client, engine, store, _ = world
    execution_id, build = paused_run(world)
    _expire(store)
    engine.cycle()
    assert build.answers == [InputAnswer(INPUT, "abort", {})]
    engine.cycle()
    assert state_of(store, execution_id) == "Timeout"
    approval = only_approval(client)
    assert approval["state"] == "TimedOut" and approval["decision"]["via"] == "timeout"
    assert decide(client, approval["id"], "alice", approve=True).status_code == 409


@pytest.mark.parametrize("seen", ["run-ended", "step-ended-first"])
def test_jenkins_own_input_timeout_ends_the_run_timeout(world, seen):
    client, engine, store, _ = world
    execution_id, build = paused_run(world)
    _expire(store)
    # Jenkins' timeout(...) around the input fired before the engine's.
    if seen == "step-ended-first":  # a cycle sees the step aborted, the run still going
        build.finish_stage("step-1-0", "ABORTED")
        build.inputs.clear()
        engine.cycle()
        assert only_approval(client)["state"] == "TimedOut"
    build.finish("ABORTED")
    engine.cycle()
    assert state_of(store, execution_id) == "Timeout"
    assert only_approval(client)["state"] == "TimedOut" and build.answers == []


def test_jenkins_own_input_timeout_counts_though_the_pause_was_seen_late(world):
    client, engine, store, fake = world
    execution_id, build = paused_run(world)  # the approval's timeout is 120 minutes
    fake.clock.tick(120 * 60_000)  # the sidecar's own deadline is still minutes away
    build.finish_stage("step-1-0", "ABORTED")
    build.inputs.clear()
    build.finish("ABORTED")
    engine.cycle()
    assert state_of(store, execution_id) == "Timeout"
    approval = only_approval(client)
    assert approval["state"] == "TimedOut" and approval["decision"]["via"] == "timeout"


def test_a_decision_during_a_jenkins_outage_is_delivered_later(world):
    client, engine, store, fake = world
    execution_id, build = paused_run(world)
    approval_id = only_approval(client)["id"]
    fake.fail_with(503)
    answer = decide(client, approval_id, "alice", approve=True, parameters={"NOTE": "hotfix"})
    assert answer.status_code == 200 and answer.json["delivered"] is False
    engine.cycle()
    assert build.answers == []
    fake.recover()
    engine.cycle()
    assert build.answers == [InputAnswer(INPUT, "proceed", {"TARGET": "us-east",
                                                            "CANARY": True, "NOTE": "hotfix"})]
    kept = client.get(f"/api/v1/approvals/{approval_id}", headers=auth("reader")).json
    assert kept["delivered"] is True and kept["decision"]["deliveryAttempts"] == 3
    finish_run(build)
    engine.cycle()
    assert state_of(store, execution_id) == "Success" and len(build.answers) == 1


def test_a_failing_receiver_is_retried_a_bounded_number_of_times(world, receiver):
    client, engine, _, _ = world
    receiver.status = 500
    paused_run(world)
    for _ in range(12):
        engine.cycle()
    approval = only_approval(client)
    assert len(receiver.received) == approval["notifyAttempts"] == 8
    assert approval["notifiedAt"] is None


def test_a_receiver_back_after_a_failure_is_notified_once(world, receiver):
    client, engine, _, _ = world
    receiver.status = 503
    paused_run(world)
    receiver.status = 204
    engine.cycle()
    engine.cycle()
    approval = only_approval(client)
    assert len(receiver.received) == approval["notifyAttempts"] == 2
    assert approval["notifiedAt"] is not None
    assert receiver.received[0][0]["X-Sidecar-Delivery"] == \
        receiver.received[1][0]["X-Sidecar-Delivery"]


def test_without_submitters_any_write_token_decides(world):
    # Configs must list submitters; an approval without any (an older row, say) is open
    # to every write token, as a Jenkins input without submitter is to Job.BUILD.
    client, _, store, _ = world
    _, build = paused_run(world)
    with store.session() as session:
        session.execute(update(Approval).values(submitters=[]))
    approval_id = only_approval(client)["id"]
    assert decide(client, approval_id, "reader", approve=True).status_code == 403
    assert decide(client, approval_id, "carol", approve=True).status_code == 200
    assert [a.action for a in build.answers] == ["proceed"]


@pytest.mark.parametrize("body, message", [
    ({}, "approve must be true or false"),
    ({"approve": "yes"}, "approve must be true or false"),
    ({"approve": True, "parameters": []}, "parameters must be an object"),
    ({"approve": True, "extra": 1}, "unknown field 'extra'"),
    ({"approve": True, "parameters": {"TARGET": "mars"}}, "'mars' is not one of"),
    ({"approve": True, "parameters": {"CANARY": "maybe"}}, "must be true or false"),
    ({"approve": True, "parameters": {"GHOST": "x"}}, "unknown parameter 'GHOST'"),
], ids=["empty", "not-bool", "params-list", "unknown-field", "bad-choice", "bad-bool",
        "unknown-param"])
def test_bad_decisions_are_400(world, body, message):
    client, _, _, _ = world
    _, build = paused_run(world)
    answer = decide(client, only_approval(client)["id"], "alice", **body)
    assert answer.status_code == 400
    assert message in json.dumps(answer.json)
    assert build.answers == [] and only_approval(client)["state"] == "Pending"


def test_listing_filters_and_unknowns(world):
    client, _, _, _ = world
    paused_run(world)
    reader = auth("reader")
    assert len(client.get("/api/v1/approvals?state=Pending&pipeline=shop:api",
                          headers=reader).json) == 1
    assert client.get("/api/v1/approvals?state=Approved", headers=reader).json == []
    assert client.get("/api/v1/approvals?pipeline=shop:other", headers=reader).json == []
    assert client.get("/api/v1/approvals?state=Bogus", headers=reader).status_code == 400
    assert client.get("/api/v1/approvals/999", headers=reader).status_code == 404
    assert decide(client, 999, "alice", approve=True).status_code == 404
    assert client.get("/api/v1/approvals").status_code == 401


def test_concurrent_decisions_have_one_winner(world):
    client, _, store, _ = world
    paused_run(world)
    approval_id = only_approval(client)["id"]
    alice = Principal(user="alice", access="write")

    def attempt(approve):
        try:
            with store.session() as session:
                approvals.decide(session, approval_id, alice, approve=approve, parameters={},
                                 comment="")
            return "won"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, [True, False] * 8))
    assert sorted(set(results)) == ["conflict", "won"] and results.count("won") == 1
    with store.session() as session:
        assert session.get(Approval, approval_id).state in ("Approved", "Rejected")


def test_webhook_settings_are_checked_and_the_secret_stays_hidden(caplog):
    with pytest.raises(ConfigError, match="SIDECAR_APPROVAL_WEBHOOK_SECRET is needed"):
        settings_from({}, {"approval_webhook_url": "https://centre.example/hook"})
    with pytest.raises(ConfigError, match="SIDECAR_PUBLIC_URL must start with http"):
        settings_from({}, {"public_url": "sidecar.example"})
    with pytest.raises(ConfigError, match="SIDECAR_PUBLIC_URL is needed with an approval"):
        settings_from({"SIDECAR_APPROVAL_WEBHOOK_URL": "https://centre.example/hook",
                       "SIDECAR_APPROVAL_WEBHOOK_SECRET": SECRET})
    settings = settings_from({"SIDECAR_APPROVAL_WEBHOOK_URL": "https://centre.example/hook",
                              "SIDECAR_APPROVAL_WEBHOOK_SECRET": SECRET,
                              "SIDECAR_PUBLIC_URL": "https://sidecar.example"})
    assert SECRET not in repr(settings)
    sender = WebhookSender(url="http://127.0.0.1:9/hook?key=k", secret=SECRET, timeout=1,
                           client=outbound.Client(outbound.Policy.parse("127.0.0.1/32")))
    with pytest.raises(NotifyError) as failure:
        sender.send("approval.pending", "approval-1", {"id": 1})
    assert SECRET not in str(failure.value) and "key=k" not in str(failure.value)
    assert SECRET not in repr(sender)
