"""Blue Ocean run control and routing: start, stop, replay, names, paging, errors, classes.

We test these aspects, on SQLite and PostgreSQL:
- POST runs/ with parameters answers 200 with the queued run, records the caller as
  triggered_by and the parameters; unknown parameters, bad bodies are 400; a read-only
  token is 403;
- PUT stop/ of a run not started aborts it at once; with blocking=true it waits (bounded
  by timeOutInSecs) while the engine stops the build; an ended run is answered as it is;
- POST replay/ makes a new run with the same config, commit and parameters, replay_of
  set, answered as a QueueItemImpl; a queued run cannot be replayed;
- the dotted, folder and id forms of a pipeline name reach the same pipeline; every
  path answers with and without its trailing slash; unknown pipelines, runs, nodes and
  steps are 404 in the error body shape; bad paging is 400;
- the classes look-up answers every class asked for (an unknown one: no classes);
- lists cost a fixed number of queries, however many runs or steps they show.
"""

from __future__ import annotations

import threading

import blueocean_runs as runs
import pytest
from blueocean_shapes import CLASSES, ERROR, EXTENSION_CLASS, QUEUE_ITEM, QUEUED_RUN, RUN, check
from fakes.jenkins import FakeJenkins
from sqlalchemy import event

from sidecar.app import create_app
from sidecar.engine.loop import Engine
from sidecar.jenkins import JenkinsClient
from sidecar.services import executions
from sidecar.services.access import digest_of

HEADERS = {"Authorization": "Bearer alice-token"}
READER = {"Authorization": "Bearer bob-token"}


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": runs.TOKEN}) as jenkins:
        yield jenkins


@pytest.fixture
def app(database_url, tmp_path):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        f"tokens:\n- {{user: alice, access: write, sha256: {digest_of('alice-token')}}}\n"
        f"- {{user: bob, access: read, sha256: {digest_of('bob-token')}}}\n")
    app = create_app({"TESTING": True, "database_url": database_url,
                      "api_tokens_file": str(tokens)})
    runs.create_pipeline(app.extensions["sidecar"].store)
    yield app
    app.extensions["sidecar"].store.dispose()


@pytest.fixture
def store(app):
    return app.extensions["sidecar"].store


@pytest.fixture
def client(app):
    return app.test_client()


def _engine(store, fake, templates):
    return Engine(store=store, jenkins=JenkinsClient(url=fake.url, user="sidecar",
                                                     token=runs.TOKEN),
                  templates=templates, queue_wait=0)


def test_start_a_run_with_parameters(client, store):
    response = client.post(f"{runs.BO_PIPELINE}runs/", headers=HEADERS,
                           json={"parameters": [{"name": "TARGET", "value": "prod"}]})
    assert response.status_code == 200
    assert check(response.json, QUEUED_RUN) == []
    assert (response.json["id"], response.json["state"]) == ("1", "QUEUED")
    assert response.json["causes"][0]["userId"] == "alice"
    with store.session() as session:
        execution = executions.get(session, f"{runs.PIPELINE}-1")
        assert (execution.triggered_by, execution.parameters) == ("alice", {"TARGET": "prod"})
    assert client.post(f"{runs.BO_PIPELINE}runs", headers=HEADERS).status_code == 200
    assert client.get(f"{runs.BO_PIPELINE}runs/2", headers=HEADERS).json["state"] == "QUEUED"


@pytest.mark.parametrize("body, status", [
    ({"parameters": [{"name": "NOPE", "value": "x"}]}, 400),
    ({"parameters": [{"value": "x"}]}, 400),
    ({"parameters": {"TARGET": "x"}}, 400),
    (["not", "an", "object"], 400),
])
def test_bad_start_requests_are_400(client, body, status):
    response = client.post(f"{runs.BO_PIPELINE}runs/", headers=HEADERS, json=body)
    assert response.status_code == status
    assert check(response.json, ERROR) == []


def test_read_only_tokens_cannot_start_or_stop(client, store):
    run = runs.trigger(store)
    assert client.post(f"{runs.BO_PIPELINE}runs/", headers=READER).status_code == 403
    assert client.put(f"{runs.BO_PIPELINE}runs/{run}/stop/", headers=READER).status_code == 403
    assert client.get(f"{runs.BO_PIPELINE}runs/{run}/", headers=READER).status_code == 200
    assert client.get(f"{runs.BO_PIPELINE}runs/").status_code == 401


def test_stop_before_the_start_aborts_at_once(client, store):
    run = runs.trigger(store)
    response = client.put(f"{runs.BO_PIPELINE}runs/{run}/stop/?blocking=true&timeOutInSecs=5",
                          headers=HEADERS)
    assert response.status_code == 200 and check(response.json, RUN) == []
    assert (response.json["state"], response.json["result"]) == ("FINISHED", "ABORTED")
    again = client.put(f"{runs.BO_PIPELINE}runs/{run}/stop", headers=HEADERS)
    assert (again.status_code, again.json["result"]) == (200, "ABORTED")


def test_blocking_stop_waits_for_the_engine(client, store, fake, templates):
    engine = _engine(store, fake, templates)
    run, build = runs.started(store, engine, fake)
    build.start_stage("step-0-0")
    quick = client.put(f"{runs.BO_PIPELINE}runs/{run}/stop/?blocking=true&timeOutInSecs=0",
                       headers=HEADERS)
    assert (quick.status_code, quick.json["state"]) == (200, "RUNNING")
    ended = threading.Event()

    def follow():  # the engine thread of a served sidecar, cycling until the run ended
        for _ in range(500):
            engine.cycle()
            with store.session() as session:
                if executions.get(session, f"{runs.PIPELINE}-{run}").ended_at:
                    break
        ended.set()

    worker = threading.Thread(target=follow)
    worker.start()
    response = client.put(f"{runs.BO_PIPELINE}runs/{run}/stop/?blocking=true&timeOutInSecs=20",
                          headers=HEADERS)
    worker.join(30)
    assert ended.is_set() and build.stop_requested
    assert (response.json["state"], response.json["result"]) == ("FINISHED", "ABORTED")
    assert client.put(f"{runs.BO_PIPELINE}runs/{run}/stop/?timeOutInSecs=-1",
                      headers=HEADERS).status_code == 400


def test_replay(client, store, fake, templates):
    engine = _engine(store, fake, templates)
    with store.session() as session:
        executions.trigger(session, runs.PIPELINE, executions.TriggerRequest(
            commit="c" * 40, parameters={"TARGET": "prod"}))
    engine.cycle()
    response = client.post(f"{runs.BO_PIPELINE}runs/1/replay/", headers=HEADERS)
    assert response.status_code == 200 and check(response.json, QUEUE_ITEM) == []
    assert (response.json["expectedBuildNumber"], response.json["id"]) == (2, "2")
    with store.session() as session:
        old, new = (executions.get(session, f"{runs.PIPELINE}-{n}") for n in (1, 2))
        assert new.replay_of == old.id and new.triggered_by == "alice"
        assert (new.commit, new.parameters, new.config_snapshot) == \
            (old.commit, old.parameters, old.config_snapshot)
    assert client.get(f"{runs.BO_PIPELINE}runs/2/", headers=HEADERS).json["causes"][0][
        "shortDescription"] == "Replayed #1"
    queued = client.post(f"{runs.BO_PIPELINE}runs/2/replay", headers=HEADERS)
    assert (queued.status_code, queued.json["message"]) == (400, "This run does not support replay")


@pytest.mark.parametrize("path", [
    "/blue/rest/organizations/jenkins/pipelines/sidecar.shop.web",
    "/blue/rest/organizations/jenkins/pipelines/sidecar.shop.web/",
    "/blue/rest/organizations/jenkins/pipelines/shop/pipelines/web/",
    "/blue/rest/organizations/jenkins/pipelines/shop:web",
])
def test_every_name_form_reaches_the_pipeline(client, path):
    response = client.get(path, headers=HEADERS)
    assert response.status_code == 200
    assert response.json["_links"]["self"]["href"] == runs.BO_PIPELINE


@pytest.mark.parametrize("path", [
    "sidecar.shop.nope/", "sidecar.shop/", "other.shop.web/", "shop/pipelines/nope/runs/",
    "sidecar.shop.web/runs/99/", "sidecar.shop.web/runs/x/", "sidecar.shop.web/runs/1/nodes/99/",
    "sidecar.shop.web/runs/1/steps/3/", "sidecar.shop.web/runs/1/nodes/3/steps/10/",
    "sidecar.shop.web/runs/1/nodes/3/steps/10/log/", "sidecar.shop.web/runs/1/nope/",
    "sidecar.shop.web/runs/1/nodes/99/log/", "sidecar.shop.web/runs/1/nodes/99/steps/4/log/",
    "sidecar.shop.web/runs/99/steps/4/log/",
])
def test_unknown_objects_are_404_in_the_error_shape(client, store, path):
    runs.trigger(store)
    response = client.get("/blue/rest/organizations/jenkins/pipelines/" + path, headers=HEADERS)
    assert response.status_code == 404
    assert check(response.json, ERROR) == []


def test_paging_errors_and_defaults(client, store):
    for _ in range(3):
        runs.trigger(store)
    href = f"{runs.BO_PIPELINE}runs/"
    assert client.get(href + "?limit=x", headers=HEADERS).status_code == 400
    assert [r["id"] for r in client.get(href + "?start=-4&limit=-1", headers=HEADERS).json] == \
        ["3", "2", "1"]
    page = client.get(href + "?start=1&limit=1&branch=main", headers=HEADERS)
    assert [r["id"] for r in page.json] == ["2"]
    assert page.headers["Link"] == f'<{href}?branch=main&start=2&limit=1>; rel="next"'


def test_classes(client):
    wanted = ["io.jenkins.blueocean.rest.impl.pipeline.PipelineRunImpl", "com.example.Unknown"]
    response = client.post("/blue/rest/classes/", headers=READER, json={"q": wanted})
    assert response.status_code == 200 and check(response.json, CLASSES) == []
    assert set(response.json["map"]) == set(wanted)
    assert "io.jenkins.blueocean.rest.model.BlueRun" in response.json["map"][wanted[0]]["classes"]
    assert response.json["map"][wanted[1]]["classes"] == []
    one = client.get(f"/blue/rest/classes/{wanted[0]}/", headers=READER)
    assert check(one.json, EXTENSION_CLASS) == []
    unknown = client.get(f"/blue/rest/classes/{wanted[1]}", headers=READER)
    assert (unknown.status_code, unknown.json["classes"]) == (200, [])  # as Blue Ocean answers
    assert client.post("/blue/rest/classes", headers=READER, json={"q": "x"}).status_code == 400


def test_no_query_per_row(client, store):
    for _ in range(30):
        runs.trigger(store)
    statements = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))
    counts = {}
    for path in ("runs/?limit=5", "runs/?limit=30", "runs/3/nodes/", "runs/3/steps/", "",
                 "runs/3/"):
        statements.clear()
        assert client.get(runs.BO_PIPELINE + path, headers=HEADERS).status_code == 200
        counts[path] = len(statements)
    # One more query per page than rows would need: the runs' change sets.
    assert counts["runs/?limit=5"] == counts["runs/?limit=30"] <= 3
    # Nodes: a finished run's stored list is looked for first (one statement).
    assert counts["runs/3/nodes/"] <= 4 and counts["runs/3/steps/"] <= 3
    assert counts[""] <= 3 and counts["runs/3/"] <= 3
