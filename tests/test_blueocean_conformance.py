"""Every Blue Ocean document has exactly the reference's keys, types, formats and values.

We test these aspects, on SQLite and PostgreSQL, with real executions driven through
the engine and the fake Jenkins (not hand-made rows):
- runs queued (in the sidecar and in Jenkins' queue), running, paused on input,
  succeeded (with a skipped stage; started by a push, so with a change set), failed and
  aborted: the pipeline, pipelines list,
  runs list, run, nodes, each node, node and run steps, each step (both URLs), step
  and run log headers are checked against tests/blueocean_shapes.py (exact key sets,
  types, date format, enumerations, `_links` ending in '/');
- each run's state and result, each node's and step's, match the state mapping;
- the paused step carries the input (id, message, ok, submitters, parameters);
- every self link answers the document it belongs to;
- the shapes themselves accept the recorded Blue Ocean responses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

import blueocean_runs as runs
from blueocean_runs import app, engine, fake, scenarios, store  # noqa: F401  (fixtures)
from blueocean_shapes import (CLASSES, EXTENSION_CLASS, NODE, PIPELINE, QUEUE_ITEM, QUEUED_RUN,
                              RUN, STEP, check)
from sidecar.store.models import Approval

RECORDED = Path("/work/shared/blueocean-recorded")
F, U = "FINISHED", "UNKNOWN"
# Per scenario: run (state, result), then (state, result) of the nodes in walk order:
# Build, step-0-0, step-0-1, Approve, step-1-0, Release, step-2-0.
SKIP = ("SKIPPED", "NOT_BUILT")
EXPECTED = {
    "queued": (("QUEUED", U), [(None, None)] * 7),  # not rendered yet: `when` undecided
    "jenkins-queue": (("QUEUED", U), [(None, None)] * 5 + [SKIP] * 2),
    "running": (("RUNNING", U), [("RUNNING", U), ("RUNNING", U), (None, None), (None, None),
                                 (None, None), SKIP, SKIP]),
    "paused": (("PAUSED", U), [(F, "SUCCESS")] * 3 + [("PAUSED", U)] * 2 + [SKIP] * 2),
    "succeeded": ((F, "SUCCESS"), [(F, "SUCCESS")] * 5 + [SKIP] * 2),
    "failed": ((F, "FAILURE"), [(F, "FAILURE"), (F, "SUCCESS"), (F, "FAILURE")] + [SKIP] * 4),
    "aborted": ((F, "ABORTED"), [(F, "ABORTED"), (F, "ABORTED")] + [SKIP] * 5),
}


def _get(client, href: str):
    response = client.get(href)
    assert response.status_code == 200, (href, response.get_data(as_text=True))
    return response


def _assert_shape(doc, shape) -> None:
    problems = check(doc, shape)
    assert problems == [], json.dumps(doc, indent=1)[:3000]


def _self(doc) -> str:
    return doc["_links"]["self"]["href"]


@pytest.mark.parametrize("name", EXPECTED)
def test_every_document_of_each_run_state_has_the_reference_shape(app, scenarios, name):
    client, run = app.test_client(), scenarios[name]
    (run_state, node_states) = EXPECTED[name]
    doc = _get(client, f"{runs.BO_PIPELINE}runs/{run}/").json
    _assert_shape(doc, QUEUED_RUN if name in ("queued", "jenkins-queue") else RUN)
    assert (doc["state"], doc["result"]) == run_state
    assert doc["id"] == str(run) and _self(doc) == f"{runs.BO_PIPELINE}runs/{run}/"
    nodes = _get(client, f"{runs.BO_PIPELINE}runs/{run}/nodes/?limit=10000").json
    for node in nodes:
        _assert_shape(node, NODE)
        assert _without_duration(_get(client, _self(node)).json) == _without_duration(node)
    assert [(n["displayName"], n["type"]) for n in nodes] == [
        ("Build", "STAGE"), ("step-0-0", "PARALLEL"), ("step-0-1", "PARALLEL"),
        ("Approve", "STAGE"), ("step-1-0", "PARALLEL"), ("Release", "STAGE"),
        ("step-2-0", "PARALLEL")]
    assert [(n["state"], n["result"]) for n in nodes] == node_states
    _check_graph(nodes)
    steps = _get(client, f"{runs.BO_PIPELINE}runs/{run}/steps/").json
    assert [(s["state"], s["result"]) for s in steps] == [
        state for node, state in zip(nodes, node_states) if node["type"] == "PARALLEL"]
    for node in nodes:
        for step in _get(client, node["_links"]["steps"]["href"]).json:
            _assert_shape(step, STEP)
            assert _without_duration(_get(client, _self(step)).json) == _without_duration(step)
    for step in steps:
        _assert_shape(step, STEP)
        _check_log_headers(client, step, can_grow=step["state"] not in ("FINISHED", "SKIPPED")
                           and run_state[0] != "FINISHED")
    _check_log_headers(client, doc, can_grow=run_state[0] != "FINISHED")
    paused = [s for s in steps if s["state"] == "PAUSED"]
    assert [s["input"] is not None for s in paused] == ([True] if name == "paused" else [])


def test_the_paused_step_carries_its_input(app, store, scenarios):
    client = app.test_client()
    with store.session() as session:  # the approvals sync may name the input itself
        (approval,) = session.scalars(select(Approval).where(Approval.state == "Pending"))
    steps = _get(client, f"{runs.BO_PIPELINE}runs/{scenarios['paused']}/nodes/8/steps/").json
    (step,) = steps
    assert step["input"] == {
        "_class": "io.jenkins.blueocean.rest.impl.pipeline.InputStepImpl",
        "_links": {"self": {"_class": "io.jenkins.blueocean.rest.hal.Link",
                            "href": _self(step) + "input/"}},
        "id": approval.input_id, "message": "Ship it?", "ok": "Ship",
        "parameters": [{"_class": "hudson.model.StringParameterDefinition",
                        "defaultParameterValue": {"_class": "hudson.model.StringParameterValue",
                                                  "name": "NOTE", "value": "none"},
                        "description": "Release note", "name": "NOTE",
                        "type": "StringParameterDefinition"}],
        "submitter": "alice,release-managers"}
    assert step["displayName"] == "Wait for interactive input"
    assert "org.jenkinsci.plugins.workflow.support.actions.PauseAction" in [
        a["_class"] for a in step["actions"]]


def test_pipeline_documents_and_lists(app, scenarios):
    client = app.test_client()
    pipeline = _get(client, runs.BO_PIPELINE).json
    _assert_shape(pipeline, PIPELINE)
    assert pipeline["name"] == pipeline["fullName"] == "sidecar.shop.web"
    assert pipeline["latestRun"]["id"] == str(scenarios["queued"])
    assert [p["name"] for p in pipeline["parameters"]] == ["TARGET"]
    listed = _get(client, "/blue/rest/organizations/jenkins/pipelines/").json
    assert listed == [pipeline]
    page = _get(client, f"{runs.BO_PIPELINE}runs/?limit=3")
    assert [r["id"] for r in page.json] == ["7", "6", "5"]
    assert page.headers["Link"] == \
        f'<{runs.BO_PIPELINE}runs/?start=3&limit=3>; rel="next"'
    everything = _get(client, f"{runs.BO_PIPELINE}runs/?start=0&limit=10000").json
    assert [r["id"] for r in everything] == [str(n) for n in range(7, 0, -1)]
    for doc in everything:
        _assert_shape(doc, QUEUED_RUN if doc["state"] == "QUEUED" else RUN)
        assert _self(doc) == f"{runs.BO_PIPELINE}runs/{doc['id']}/"
    second = _get(client, f"{runs.BO_PIPELINE}runs/2/").json
    assert second["_links"]["prevRun"]["href"] == f"{runs.BO_PIPELINE}runs/1/"
    assert second["_links"]["nextRun"]["href"] == f"{runs.BO_PIPELINE}runs/3/"


def test_shapes_accept_the_recorded_documents():
    """The shape data matches real Blue Ocean output (older recordings lack newer keys)."""
    def load(name):
        return json.loads((RECORDED / name).read_text())
    for node in load("nodes-poststagefail.json"):
        assert check(node, NODE, strict=False) == []
    for name in ("steps-descriptions.json", "steps-failing-running.json"):
        for step in load(name):
            assert check(step, STEP, strict=False) == []
    assert check(load("step-input.json"), STEP, strict=False) == []
    assert check(load("run-akeneo-2018.json"), RUN, strict=False) == []
    for name in ("replay-readme.json", "queue-item-readme.json"):
        assert check(load(name), QUEUE_ITEM, strict=False) == []
    classes = load("classes-readme.json")
    assert check(classes, CLASSES) == []
    for item in classes["map"].values():
        assert check(item, EXTENSION_CLASS) == []


def _check_graph(nodes) -> None:
    ids = [n["id"] for n in nodes]
    assert len(set(ids)) == len(ids)
    stages = [n for n in nodes if n["type"] == "STAGE"]
    for position, stage in enumerate(stages):
        branches = [n for n in nodes if n["firstParent"] == stage["id"] and n["type"] == "PARALLEL"]
        assert [e["id"] for e in stage["edges"]] == [b["id"] for b in branches]
        following = stages[position + 1]["id"] if position + 1 < len(stages) else None
        for branch in branches:
            assert [e["id"] for e in branch["edges"]] == ([following] if following else [])
        assert stage["firstParent"] == (stages[position - 1]["id"] if position else None)


def _check_log_headers(client, doc, *, can_grow: bool) -> None:
    response = _get(client, doc["_links"]["self"]["href"] + "log/?start=0")
    assert response.headers["Content-Type"] == "text/plain;charset=UTF-8"
    assert int(response.headers["X-Text-Size"]) == len(response.data)
    assert response.headers.get("X-More-Data") == ("true" if can_grow else None)


def _without_duration(doc):
    # Durations of running nodes and steps count up to the moment of each request.
    return {k: v for k, v in doc.items() if k != "durationInMillis"}
