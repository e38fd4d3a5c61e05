"""Retention: the discarder applied to the sidecar's own executions and what hangs off them.

We test these aspects, on SQLite and PostgreSQL:
- a config's ``numToKeep`` keeps the newest N finished runs of the pipeline; running runs
  are never removed and do not count; the removed runs' step states, logs, approvals and
  node history go with them; other pipelines are untouched;
- ``daysToKeep`` removes finished runs that ended before the cutoff;
- without a discarder in the config the project's ``numToKeep``/``daysToKeep`` apply, and
  both at 0 keep everything;
- the policy is the one of the config as last built (the newest execution's snapshot);
- deletion goes in batches and a sweep while the API serves the same runs answers no 5xx;
- webhook delivery ids older than a month are pruned; on PostgreSQL a large sweep vacuums
  the tables it emptied, so their space is reused at once;
- the engine sweeps every ``retention_interval`` seconds, and not in between;
- Jenkins gets the same policy: config.xml carries the project default without a discarder.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from sidecar import config, render
from sidecar.cache import place
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.engine.loop import Engine
from sidecar.services import executions, pipelines, projects, retention
from sidecar.store.models import (Approval, Execution, LogChunk, ScheduledInfo, StepState,
                                  WebhookDelivery, utcnow)

CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: make}
"""


def _pipeline(store, name, discarder="", project="shop"):
    with store.session() as session:
        pipelines.create(session, {"project": project, "name": name,
                                   "inlineConfig": CONFIG + discarder})
    return f"{project}:{name}"


def _runs(store, pipeline_id, count, *, state="Success", ended_days_ago=0):
    """count executions of the pipeline in a state, each with a log, an approval, history."""
    ids = []
    for _ in range(count):
        with store.session() as session:
            execution = executions.trigger(session, pipeline_id, executions.TriggerRequest())
            execution.state = state
            if state in ("Success", "Failed"):
                execution.ended_at = utcnow() - timedelta(days=ended_days_ago)
            session.add(LogChunk(execution_id=execution.id, stage_index=0, step_index=0,
                                 offset=0, text="log\n"))
            session.add(Approval(execution_id=execution.id, stage_index=0, step_index=0,
                                 input_id="ok", message="Go?"))
            session.add(ScheduledInfo(execution_id=execution.id, pipeline_id=pipeline_id,
                                      node_name="node-1"))
            ids.append(execution.id)
    return ids


def _left(store, pipeline_id):
    with store.session() as session:
        return session.scalars(select(Execution.id).where(Execution.pipeline_id == pipeline_id)
                               .order_by(Execution.run)).all()


def _count(store, model):
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_num_to_keep_keeps_the_newest_finished_runs(store):
    kept = _pipeline(store, "kept", "discarder: {numToKeep: 3}\n")
    other = _pipeline(store, "other")
    finished = _runs(store, kept, 6)
    running = _runs(store, kept, 2, state="Building")
    untouched = _runs(store, other, 4)
    report = retention.sweep(store, utcnow())
    assert report.executions == 3
    assert _left(store, kept) == finished[3:] + running
    assert _left(store, other) == untouched
    for model in (StepState, LogChunk, Approval, ScheduledInfo):
        assert _count(store, model) == len(finished[3:] + running + untouched), model
    assert retention.sweep(store, utcnow()).executions == 0


def test_days_to_keep_removes_runs_that_ended_before_the_cutoff(store):
    pipeline_id = _pipeline(store, "aged", "discarder: {daysToKeep: 7}\n")
    old = _runs(store, pipeline_id, 3, ended_days_ago=10)
    recent = _runs(store, pipeline_id, 2, ended_days_ago=1)
    assert retention.sweep(store, utcnow()).executions == len(old)
    assert _left(store, pipeline_id) == recent


def test_project_default_applies_without_a_discarder(store):
    pipeline_id = _pipeline(store, "plain")
    runs = _runs(store, pipeline_id, 5)
    with store.session() as session:
        projects.update_settings(session, "shop", {"numToKeep": 0, "daysToKeep": 0})
    assert retention.sweep(store, utcnow()).executions == 0
    with store.session() as session:
        projects.update_settings(session, "shop", {"numToKeep": 2})
    retention.sweep(store, utcnow())
    assert _left(store, pipeline_id) == runs[3:]


def test_the_newest_built_config_decides(store):
    pipeline_id = _pipeline(store, "changed", "discarder: {numToKeep: 1}\n")
    runs = _runs(store, pipeline_id, 4)
    with store.session() as session:  # the config at the newest commit keeps two
        executions.get(session, runs[-1]).config_snapshot = \
            CONFIG + "discarder: {numToKeep: 2}\n"
    retention.sweep(store, utcnow())
    assert _left(store, pipeline_id) == runs[2:]


def test_deletion_goes_in_batches(store):
    pipeline_id = _pipeline(store, "many", "discarder: {numToKeep: 1}\n")
    runs = _runs(store, pipeline_id, 12)
    assert retention.sweep(store, utcnow(), batch=5).executions == 11
    assert _left(store, pipeline_id) == runs[-1:]


def test_sweeping_while_the_api_serves_answers_no_server_error(store, tmp_path):
    from sidecar.app import create_app

    pipeline_id = _pipeline(store, "busy", "discarder: {numToKeep: 5}\n")
    runs = _runs(store, pipeline_id, 60)
    app = create_app({"TESTING": True, "database_url": str(store.engine.url.render_as_string(
        hide_password=False))})
    client = app.test_client()
    statuses: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            statuses.append(client.get(f"/api/v1/executions?pipeline={pipeline_id}").status_code)
            for execution_id in runs[::7]:
                statuses.append(client.get(f"/api/v1/executions/{execution_id}").status_code)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert retention.sweep(store, utcnow(), batch=4).executions == 55
    finally:
        done.set()
        reader.join()
        app.extensions["sidecar"].store.dispose()
    assert statuses and set(statuses) <= {200, 404}


def test_old_webhook_deliveries_are_pruned(store):
    with store.session() as session:
        session.add(WebhookDelivery(provider="github", delivery_id="old",
                                    received_at=utcnow() - timedelta(days=40)))
        session.add(WebhookDelivery(provider="github", delivery_id="new"))
    assert retention.sweep(store, utcnow()).deliveries == 1
    with store.session() as session:
        assert session.scalars(select(WebhookDelivery.delivery_id)).all() == ["new"]


@pytest.mark.parametrize("interval, expected_runs_left", [(3600.0, 2), (1e-9, 1), (0.0, 3)])
def test_the_engine_sweeps_on_its_interval(store, templates, interval, expected_runs_left):
    pipeline_id = _pipeline(store, "engine", "discarder: {numToKeep: 1}\n")
    _runs(store, pipeline_id, 2)
    engine = Engine(store=store, jenkins=None, templates=templates,
                    retention_interval=interval)
    engine.cycle()
    _runs(store, pipeline_id, 1)  # added after the first sweep: the next one is an hour away
    engine.cycle()
    assert len(_left(store, pipeline_id)) == expected_runs_left


def test_job_config_carries_the_project_default(templates):
    pipeline = config.parse_pipeline(CONFIG)
    context, settings = RenderContext(), ProjectSettings(num_to_keep=20, days_to_keep=9)
    xml = render.render(pipeline, context, settings, place(pipeline, context, settings, ()),
                        templates).config_xml
    assert "<daysToKeep>9</daysToKeep>" in xml and "<numToKeep>20</numToKeep>" in xml
    keep_all = ProjectSettings(num_to_keep=0, days_to_keep=0)
    xml = render.render(pipeline, context, keep_all, place(pipeline, context, keep_all, ()),
                        templates).config_xml
    assert "BuildDiscarderProperty" not in xml
    own = config.parse_pipeline(CONFIG + "discarder: {numToKeep: 4}\n")
    xml = render.render(own, context, settings, place(own, context, settings, ()),
                        templates).config_xml
    assert "<numToKeep>4</numToKeep>" in xml and "<daysToKeep>-1</daysToKeep>" in xml


def test_a_large_sweep_vacuums_on_postgresql(store, monkeypatch):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reuses freed pages without a vacuum")
    monkeypatch.setattr(retention, "VACUUM_AFTER", 3)
    pipeline_id = _pipeline(store, "vacuumed", "discarder: {numToKeep: 1}\n")
    _runs(store, pipeline_id, 4)
    assert retention.sweep(store, utcnow()).executions == 3
    with store.engine.connect() as connection:
        vacuumed = connection.execute(text(
            "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL")).scalars()
        assert {"executions", "log_chunks", "step_states", "approvals"} <= set(vacuumed)
