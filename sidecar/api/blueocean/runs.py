"""Blue Ocean pipelines and runs: list, get, start, stop, replay, run log."""

from __future__ import annotations

from flask import jsonify, request

from sidecar.api.auth import current_principal
from sidecar.api.blueocean.common import (PREFIX, blueprint, flag, integer, json_text,
                                          log_response, paged, paging, route)
from sidecar.api.conditional import final
from sidecar.api.context import caller_session, sidecar
from sidecar.errors import ConfigError, Problem
from sidecar.readmodel import control, documents, logs, names, queries, runs
from sidecar.services import repoconfig
from sidecar.services.executions import TriggerRequest

bp = blueprint("blueocean_runs")
RUN = PREFIX + "/<bo:pipeline>/runs/<run>"


@route(bp, PREFIX)
def list_pipelines():
    """Pipelines by name, each with its latest run."""
    start, limit = paging()
    can_write = current_principal().can_write
    with caller_session() as session:
        page = queries.pipelines_page(session, start, limit)
        return paged([runs.pipeline_document(p, latest, can_write=can_write,
                                             parameters=queries.declared_parameters(p))
                      for p, latest in page], start, limit)


@route(bp, PREFIX + "/<bo:pipeline>")
def get_pipeline(pipeline: str):
    """One pipeline. :raise 404:"""
    with caller_session() as session:
        found = queries.pipeline(session, names.pipeline_id(pipeline))
        latest = queries.latest_runs(session, [found]).get(found.id)
        return jsonify(runs.pipeline_document(found, latest,
                                              can_write=current_principal().can_write,
                                              parameters=queries.declared_parameters(found)))


@route(bp, PREFIX + "/<bo:pipeline>/runs")
def list_runs(pipeline: str):
    """Runs, newest (and so queued) first. :raise 404:"""
    start, limit = paging()
    with caller_session() as session:
        page = documents.runs_page(session, names.pipeline_id(pipeline), start, limit)
    documents.remember(sidecar().store.engine, page.built)
    return paged(page.json(), start, limit)


@route(bp, PREFIX + "/<bo:pipeline>/runs", methods=("POST",))
def start_run(pipeline: str):
    """Start a run with ``{"parameters":[…]}``; 200 with the queued run, as Blue Ocean."""
    body = request.get_json(silent=True) if request.get_data() else None
    if request.get_data() and body is None:
        raise ConfigError(Problem("the request body must be JSON"))
    pipeline_id = names.pipeline_id(pipeline)
    with caller_session() as session:  # the repository's config is read outside the trigger
        queries.pipeline(session, pipeline_id)
        source = repoconfig.source_of(session, pipeline_id)
    config_text = repoconfig.filled(TriggerRequest(), source, sidecar().outbound).config_text
    with caller_session() as session:
        execution = control.start(session, pipeline_id, body, current_principal().user,
                                  config_text)
        session.flush()
        return jsonify(runs.queued_run_document(execution))


@route(bp, RUN)
def get_run(pipeline: str, run: str):
    """One run; a queued one by its number too; a finished one has an ETag. :raise 404:"""
    with caller_session() as session:
        page = documents.run_document(session, names.pipeline_id(pipeline), run)
    documents.remember(sidecar().store.engine, page.built)
    found = page.documents[0]
    return json_text(found.body, found.etag)


@route(bp, RUN + "/stop", methods=("PUT",))
def stop_run(pipeline: str, run: str):
    """Stop a run; ``blocking=true`` waits up to ``timeOutInSecs`` for it to end."""
    blocking, seconds = flag("blocking"), integer("timeOutInSecs", 10)
    state = sidecar()
    pipeline_id = names.pipeline_id(pipeline)
    with caller_session() as session:
        control.stop(session, queries.run(session, pipeline_id, run))
    if blocking:
        control.wait_for_end(state.store, pipeline_id, run, seconds)
    with caller_session() as session:
        execution = queries.run(session, pipeline_id, run)
        return jsonify(runs.run_document(execution, execution.pipeline.next_run - 1))


@route(bp, RUN + "/replay", methods=("POST",))
def replay_run(pipeline: str, run: str):
    """A new run with the same config, commit and parameters; the queue item answers."""
    with caller_session() as session:
        execution = queries.run(session, names.pipeline_id(pipeline), run)
        new = control.replay(session, execution, current_principal().user)
        session.flush()
        return jsonify(runs.queue_item_document(new))


@route(bp, RUN + "/log")
def run_log(pipeline: str, run: str):
    """The run's log from ``start``; ``X-More-Data`` while it can still grow."""
    with caller_session() as session:
        execution = queries.run(session, names.pipeline_id(pipeline), run)
        text, complete = logs.run_log(session, execution)
    return final(log_response(logs.StepLog(text, complete)), complete)
