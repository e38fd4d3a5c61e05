"""Blue Ocean input submission against the engine and the fake Jenkins.

We test these aspects, on SQLite and PostgreSQL:
- POST to the node-level and the run-level step URL (with and without the trailing
  slash) proceeds with the parameters or aborts: 200 with an empty body; the run then
  ends Success, or Denied after an abort; the decision is audited with the caller;
- bad bodies, an unknown input id, a non-submitter and a second submission are 400 with
  the Blue Ocean error body and Jenkins' messages; an unknown run or step is 404; a
  read-only token is 403.
"""

from __future__ import annotations

import pytest

from fakes.jenkins_model import InputAnswer
from test_approvals import (INPUT, auth, fake, finish_run, only_approval, paused_run,  # noqa: F401
                            receiver, state_of, world)

RUN = "/blue/rest/organizations/jenkins/pipelines/sidecar.shop.api/runs/1"
NODE_STEP = f"{RUN}/nodes/7/steps/step-1-0/"


def submit(client, url, body, user="alice"):
    return client.post(url, json=body, headers=auth(user))


@pytest.mark.parametrize("url", [NODE_STEP, f"{RUN}/steps/step-1-0", f"{RUN}/steps/12/"],
                         ids=["node-step", "run-step-no-slash", "run-step-flow-node"])
def test_proceed_with_parameters(world, url):
    client, engine, store, _ = world
    execution_id, build = paused_run(world)
    answer = submit(client, url, {"id": INPUT, "parameters": [
        {"name": "TARGET", "value": "eu-west"}, {"name": "CANARY", "value": False}]}, "bob")
    assert (answer.status_code, answer.data) == (200, b"")
    assert build.answers == [InputAnswer(INPUT, "proceed", {"TARGET": "eu-west",
                                                            "CANARY": False, "NOTE": ""})]
    finish_run(build)
    engine.cycle()
    assert state_of(store, execution_id) == "Success"
    approval = only_approval(client)
    assert (approval["state"], approval["decidedBy"]) == ("Approved", "bob")
    assert approval["decision"]["via"] == "blueocean"


def test_abort_ends_the_run_denied(world):
    client, engine, store, _ = world
    execution_id, build = paused_run(world)
    answer = submit(client, f"{RUN}/steps/step-1-0/", {"id": INPUT, "abort": True})
    assert (answer.status_code, answer.data) == (200, b"")
    assert build.answers == [InputAnswer(INPUT, "abort", {})]
    engine.cycle()
    assert state_of(store, execution_id) == "Denied"
    assert only_approval(client)["state"] == "Rejected"


@pytest.mark.parametrize("body, message", [
    ({}, "id is required"),
    ({"parameters": []}, "id is required"),
    ({"id": INPUT}, "parameters is required"),
    ({"id": INPUT, "parameters": {"TARGET": "x"}}, "parameters must be an array"),
    ({"id": INPUT, "parameters": [{"value": "x"}]}, "name is required parameter element"),
    ({"id": INPUT, "parameters": [{"name": "GHOST", "value": "x"}]}, "unknown parameter 'GHOST'"),
    ({"id": INPUT, "parameters": [{"name": "TARGET", "value": "mars"}]}, "'mars' is not one of"),
    ({"id": "Other", "parameters": []},
     "This Run instance does not have an Input with an id of 'Other'."),
], ids=["empty", "no-id", "no-parameters", "parameters-object", "nameless", "unknown-param",
        "bad-choice", "unknown-input"])
def test_bad_bodies_are_400_with_the_blue_ocean_error_body(world, body, message):
    client, _, _, _ = world
    _, build = paused_run(world)
    answer = submit(client, NODE_STEP, body)
    assert answer.status_code == 400
    assert answer.json["code"] == 400 and message in answer.json["message"]
    assert isinstance(answer.json["errors"], list)
    assert build.answers == [] and only_approval(client)["state"] == "Pending"


def test_refusals_mirror_jenkins(world):
    client, _, _, _ = world
    _, build = paused_run(world)
    proceed = {"id": INPUT, "parameters": []}
    answer = submit(client, NODE_STEP, proceed, "carol")
    assert answer.status_code == 400
    assert answer.json["message"] == "You need to be alice,release-managers to submit this."
    assert submit(client, NODE_STEP, proceed, "reader").status_code == 403
    assert submit(client, NODE_STEP.replace("runs/1", "runs/9"), proceed).status_code == 404
    assert submit(client, NODE_STEP.replace("sidecar.shop.api", "other"), proceed).status_code \
        == 404
    assert submit(client, f"{RUN}/steps/step-9-9/", proceed).status_code == 404
    assert build.answers == []
    assert submit(client, NODE_STEP, {"id": "deploy-to-prod", "parameters": []}).status_code \
        == 200
    again = submit(client, NODE_STEP, proceed)
    assert (again.status_code, again.json["message"]) == (400, "This input has been already given")
    assert len(build.answers) == 1
