"""Deleting a pipeline through the native API, with or without its history.

We test these aspects, on SQLite and PostgreSQL:
- a pipeline without executions is deleted (204) and is gone (404);
- with executions, a plain DELETE is a 409 that says how to delete them too, and
  changes nothing;
- ``?history=true`` deletes the pipeline, every execution and every row that refers to
  one (steps, logs, approvals, stored documents, notifications) and its node history;
  the node cache reports stay (the directories are still on the nodes); created again
  under the same name, the pipeline counts its runs from 1;
- an execution that has not finished makes it a 409 that deletes nothing;
- ``history`` other than true/false is a 400; another project's token sees a 404.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, insert, select

from sidecar.services.retention import _dependants
from sidecar.store.models import (Approval, Execution, LogChunk, NodeCache, Pipeline,
                                  ScheduledInfo, StepState)

CONFIG = ("stages:\n- name: Build\n  steps:\n"
          "  - runScriptConfig: {image: alpine, shellScript: 'true'}\n")
PIPELINES = "/api/v1/pipelines"
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _create(client, name: str = "web") -> None:
    response = client.post(PIPELINES, json={"project": "shop", "name": name,
                                            "inlineConfig": CONFIG})
    assert response.status_code == 201, response.json


def _add(store, run: int, state: str = "Success") -> str:
    """An execution of shop:web with a step, a log chunk, an approval and its node."""
    execution_id = f"shop:web-{run}"
    with store.engine.begin() as connection:
        connection.execute(insert(Execution), [{
            "id": execution_id, "pipeline_id": "shop:web", "project": "shop", "run": run,
            "state": state, "config_snapshot": CONFIG, "created_at": T0, "started_at": T0,
            "ended_at": T0 if state == "Success" else None}])
        connection.execute(insert(StepState), [{
            "execution_id": execution_id, "stage_index": 0, "step_index": 0,
            "stage_name": "Build", "state": state}])
        connection.execute(insert(LogChunk), [{
            "execution_id": execution_id, "stage_index": 0, "step_index": 0, "offset": 0,
            "text": "built\n"}])
        connection.execute(insert(Approval), [{
            "execution_id": execution_id, "stage_index": 0, "step_index": 0,
            "input_id": "ok", "message": "Deploy?", "state": "Approved"}])
        connection.execute(insert(ScheduledInfo), [{
            "pipeline_id": "shop:web", "execution_id": execution_id, "node_name": "node-1",
            "created_at": T0}])
        connection.execute(Pipeline.__table__.update().where(Pipeline.id == "shop:web")
                           .values(next_run=run + 1))
    return execution_id


def _count(store, table) -> int:
    with store.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(table))


def test_a_pipeline_without_executions_is_deleted(client):
    _create(client)
    assert client.delete(f"{PIPELINES}/shop:web").status_code == 204
    assert client.get(f"{PIPELINES}/shop:web").status_code == 404
    assert client.delete(f"{PIPELINES}/shop:web").status_code == 404


def test_history_is_deleted_only_when_asked(client, app):
    store = app.extensions["sidecar"].store
    _create(client)
    for run in (1, 2):
        _add(store, run)
    with store.engine.begin() as connection:
        connection.execute(insert(NodeCache), [{
            "node_name": "node-1", "directory": "shop/web/trusted/root/.npm",
            "pipeline_id": "shop:web", "scope": "trusted", "size_bytes": 10,
            "last_used_at": T0, "reported_at": T0}])
    refused = client.delete(f"{PIPELINES}/shop:web")
    assert refused.status_code == 409
    assert "2 executions" in str(refused.json) and "history=true" in str(refused.json)
    assert _count(store, Execution.__table__) == 2
    assert client.delete(f"{PIPELINES}/shop:web?history=true").status_code == 204
    assert client.get(f"{PIPELINES}/shop:web").status_code == 404
    for table in [*_dependants(), Execution.__table__, ScheduledInfo.__table__]:
        assert _count(store, table) == 0, table.name
    assert _count(store, NodeCache.__table__) == 1
    _create(client)
    started = client.post(f"{PIPELINES}/shop:web/executions", json={})
    assert started.status_code == 201 and started.json["run"] == 1


def test_an_unfinished_execution_keeps_everything(client, app):
    store = app.extensions["sidecar"].store
    _create(client)
    _add(store, 1)
    _add(store, 2, state="Building")
    refused = client.delete(f"{PIPELINES}/shop:web?history=true")
    assert refused.status_code == 409 and "1 executions that have not finished" in str(
        refused.json)
    assert _count(store, Execution.__table__) == 2
    assert _count(store, LogChunk.__table__) == 2
    assert client.get(f"{PIPELINES}/shop:web").status_code == 200


def test_bad_history_flag_is_a_400(client):
    _create(client)
    response = client.delete(f"{PIPELINES}/shop:web?history=yes")
    assert response.status_code == 400 and "history must be true or false" in str(response.json)
    assert client.get(f"{PIPELINES}/shop:web").status_code == 200
