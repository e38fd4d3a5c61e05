"""Reads of the native and Blue Ocean API at scale: keyset pages, stored documents, queries.

We test these aspects, on SQLite and PostgreSQL:
- the native list continues by its cursor: paged through while new runs are triggered
  between pages, every execution that existed is seen exactly once and in order (also
  executions created at the same instant); a cursor it did not make is a 400;
- Blue Ocean's start/limit paging still pages the same runs;
- a finished run has a strong ETag that stays the same on every read, answers 304 to
  If-None-Match, and changes once, when the next run adds its nextRun link; a running
  run has no ETag, and its document follows its state (never a stale stored copy);
- every other document of a finished run (nodes, steps, logs; the native execution and
  its step logs) carries an ETag of its bytes and answers 304 to it; a running run's
  carry none;
- a finished run's node list is stored once and served as stored (the same JSON as
  built); a running run's is not stored and follows its steps;
- a page costs a fixed number of SQL statements however many runs it holds (native
  list with steps and notifications; Blue Ocean list cold and warm; run detail);
- the native list shows each execution exactly as its detail does, steps and
  notifications included (the list reads them as plain rows, the detail as objects).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, insert, select, update

from sidecar.services import executions
from sidecar.store.models import (Execution, NotificationDelivery, Pipeline, RunDocument,
                                  StepState)

CONFIG = ("stages:\n- name: Build\n  steps:\n"
          "  - runScriptConfig: {image: alpine, shellScript: 'true'}\n"
          "  - runScriptConfig: {image: alpine, shellScript: 'true'}\n")
BLUE = "/blue/rest/organizations/jenkins/pipelines/sidecar.shop.web/"
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def store(app):
    """The app's store, with the pipeline shop:web."""
    client = app.test_client()
    assert client.post("/api/v1/pipelines", json={
        "project": "shop", "name": "web", "inlineConfig": CONFIG}).status_code == 201
    return app.extensions["sidecar"].store


def _add(store, runs: range, *, created=None, state="Success") -> None:
    """Executions of shop:web with these run numbers, each with two steps and a notice."""
    rows = [{"id": f"shop:web-{run}", "pipeline_id": "shop:web", "project": "shop",
             "run": run, "state": state, "config_snapshot": CONFIG, "jenkins_build": run,
             "created_at": created or T0 + timedelta(minutes=run), "started_at": T0,
             "ended_at": T0 + timedelta(hours=1) if state == "Success" else None}
            for run in runs]
    with store.engine.begin() as connection:
        connection.execute(insert(Execution), rows)
        connection.execute(insert(StepState), [
            {"execution_id": row["id"], "stage_index": 0, "step_index": step,
             "stage_name": "Build", "state": state} for row in rows for step in (0, 1)])
        connection.execute(insert(NotificationDelivery), [
            {"delivery_id": f"{row['id']}/end/team", "execution_id": row["id"],
             "notifier": "team", "condition": "end", "recipients": [], "fields": {},
             "template": "", "state": "Sent", "attempts": 1, "last_error": "",
             "template_error": ""} for row in rows])
        connection.execute(update(Pipeline).where(Pipeline.id == "shop:web")
                           .values(next_run=runs[-1] + 1))


def _native_pages(client, limit: int, between=None) -> list[str]:
    seen, path = [], f"/api/v1/executions?pipeline=shop:web&limit={limit}"
    while path:
        response = client.get(path)
        assert response.status_code == 200, response.json
        seen += [e["id"] for e in response.json]
        link = response.headers.get("Link")
        path = link[1:link.index(">")] if link else None
        if between is not None:
            between()
    return seen


def test_cursor_pages_see_each_execution_once_while_runs_are_added(client, store):
    _add(store, range(1, 21))
    _add(store, range(21, 31), created=T0 + timedelta(days=1))  # ten at one instant
    expected = [f"shop:web-{run}" for run in range(30, 0, -1)]
    added = iter(range(100, 200))

    def trigger_one():
        number = next(added)
        _add(store, range(number, number + 1), created=T0 + timedelta(days=2, minutes=number))

    assert _native_pages(client, 7, between=trigger_one) == expected


def test_a_foreign_cursor_is_a_400(client, store):
    for cursor in ("nonsense", "eyJhIjoxfQ", "W10", "x" * 2000):
        response = client.get(f"/api/v1/executions?cursor={cursor}")
        assert response.status_code == 400, cursor
        assert "cursor is not one this service returned" in str(response.json["errors"])


def test_blue_ocean_start_limit_pages_the_same_runs(client, store):
    _add(store, range(1, 13))
    pages = [client.get(f"{BLUE}runs/?start={start}&limit=5").json for start in (0, 5, 10)]
    assert [[run["id"] for run in page] for page in pages] == [
        ["12", "11", "10", "9", "8"], ["7", "6", "5", "4", "3"], ["2", "1"]]
    link = client.get(f"{BLUE}runs/?start=5&limit=5").headers["Link"]
    assert "start=10&limit=5" in link


def test_finished_run_has_a_stable_etag_and_answers_304(client, store):
    _add(store, range(1, 3))
    first = client.get(f"{BLUE}runs/2/")
    again = client.get(f"{BLUE}runs/2/")
    assert first.status_code == again.status_code == 200
    assert first.headers["ETag"] and first.headers["ETag"] == again.headers["ETag"]
    assert first.data == again.data and first.json["state"] == "FINISHED"
    cached = client.get(f"{BLUE}runs/2/", headers={"If-None-Match": first.headers["ETag"]})
    assert (cached.status_code, cached.data) == (304, b"")
    assert cached.headers["ETag"] == first.headers["ETag"]
    weakened = client.get(f"{BLUE}runs/2/", headers={"If-None-Match": "W/" + first.headers["ETag"]})
    assert weakened.status_code == 304  # If-None-Match compares weakly (RFC 9110)
    assert "nextRun" not in first.json["_links"]
    _add(store, range(3, 4))  # the next run: run 2's document gains its nextRun link
    newer = client.get(f"{BLUE}runs/2/", headers={"If-None-Match": first.headers["ETag"]})
    assert newer.status_code == 200 and newer.headers["ETag"] != first.headers["ETag"]
    assert newer.json["_links"]["nextRun"]["href"].endswith("/runs/3/")
    assert client.get(f"{BLUE}runs/2/").headers["ETag"] == newer.headers["ETag"]
    listed = client.get(f"{BLUE}runs/?limit=3").json
    assert listed[1] == newer.json


def test_running_run_has_no_etag_and_is_never_stale(client, store):
    _add(store, range(1, 2), state="Building")
    running = client.get(f"{BLUE}runs/1/")
    assert running.json["state"] == "RUNNING" and "ETag" not in running.headers
    assert client.get(f"{BLUE}runs/?limit=5").json[0]["state"] == "RUNNING"
    with store.session() as session:
        execution = session.get(Execution, "shop:web-1")
        executions.finish(execution, "Failed")
    ended = client.get(f"{BLUE}runs/1/", headers={"If-None-Match": '"anything"'})
    assert ended.status_code == 200 and ended.json["result"] == "FAILURE"
    assert ended.headers["ETag"]
    assert client.get(f"{BLUE}runs/?limit=5").json[0]["result"] == "FAILURE"


def _documents_of_run(client, run: int) -> list[str]:
    nodes = client.get(f"{BLUE}runs/{run}/nodes/").json
    stage, step = nodes[0]["id"], client.get(f"{BLUE}runs/{run}/steps/").json[0]["id"]
    return [f"{BLUE}runs/{run}/{path}" for path in (
        "nodes/", f"nodes/{stage}/", f"nodes/{stage}/steps/", f"nodes/{stage}/steps/{step}/",
        "steps/", f"steps/{step}/", f"steps/{step}/log/", f"steps/{step}/log/?start=0",
        f"nodes/{stage}/log/", "log/")] + [
        f"/api/v1/executions/shop:web-{run}", f"/api/v1/executions/shop:web-{run}/steps/0/1/log"]


def test_a_finished_runs_other_documents_answer_304(client, store):
    _add(store, range(1, 2))
    for path in _documents_of_run(client, 1):
        first, again = client.get(path), client.get(path)
        assert first.status_code == 200 and first.headers.get("ETag"), path
        assert (again.data, again.headers["ETag"]) == (first.data, first.headers["ETag"])
        cached = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert (cached.status_code, cached.data) == (304, b""), path
        assert client.get(path, headers={"If-None-Match": '"other"'}).data == first.data


def test_a_running_runs_documents_have_no_etag(client, store):
    _add(store, range(1, 2), state="Building")
    for path in _documents_of_run(client, 1):
        response = client.get(path, headers={"If-None-Match": "*"})
        assert response.status_code == 200 and "ETag" not in response.headers, path


def _stored(store, kind: str) -> list[str]:
    with store.session() as session:
        return sorted(session.scalars(select(RunDocument.execution_id)
                                      .where(RunDocument.kind == kind)))


def test_finished_nodes_are_stored_once_running_ones_never(client, store):
    _add(store, range(1, 2))
    _add(store, range(2, 3), state="Building")
    built = client.get(f"{BLUE}runs/1/nodes/")
    assert built.status_code == 200 and _stored(store, "nodes") == ["shop:web-1"]
    served = client.get(f"{BLUE}runs/1/nodes/")
    assert served.data == built.data
    assert client.get(f"{BLUE}runs/1/nodes/?start=1&limit=1").json == built.json[1:2]
    running = client.get(f"{BLUE}runs/2/nodes/").json
    assert {node["state"] for node in running} == {"RUNNING"}
    assert _stored(store, "nodes") == ["shop:web-1"]
    with store.session() as session:
        execution = session.get(Execution, "shop:web-2")
        for step in execution.steps:
            step.state = "Success"
        executions.finish(execution, "Success")
    ended = client.get(f"{BLUE}runs/2/nodes/").json
    assert {node["result"] for node in ended} == {"SUCCESS"}


def _statements(store, client, path: str) -> int:
    found = []

    def count(*args):
        if not args[2].startswith("PRAGMA"):  # SQLite's lock wait around a stored document
            found.append(args[2])

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.json
    return len(found)


def test_a_listed_execution_is_its_detail(client, store):
    _add(store, range(1, 4))
    listed = client.get("/api/v1/executions?pipeline=shop:web").json
    assert [e["id"] for e in listed] == ["shop:web-3", "shop:web-2", "shop:web-1"]
    for execution in listed:
        assert len(execution["steps"]) == 2 and len(execution["notifications"]) == 1
        assert execution == client.get(f"/api/v1/executions/{execution['id']}").json


def test_a_page_costs_the_same_statements_for_5_or_40_runs(client, store):
    _add(store, range(1, 41))
    native = {n: _statements(store, client, f"/api/v1/executions?pipeline=shop:web&limit={n}")
              for n in (5, 40)}
    # executions, their steps, their notifications
    assert native[5] == native[40] == 3
    cold = {n: _statements(store, client, f"{BLUE}runs/?start={40 - n}&limit={n}")
            for n in (5, 35)}
    # the page with stored documents, the runs to build, their change sets, the write
    assert cold[5] == cold[35] <= 4
    warm = {n: _statements(store, client, f"{BLUE}runs/?start=5&limit={n}") for n in (5, 30)}
    assert warm[5] == warm[30] == 1
    assert _statements(store, client, f"{BLUE}runs/7/") == 1
    assert _statements(store, client, f"{BLUE}runs/7/nodes/") <= 5  # built, then stored
    assert _statements(store, client, f"{BLUE}runs/7/nodes/") == 1
