"""What pipeline, run, node and step documents link to besides runs, nodes, steps and logs.

Every ``_links`` entry the sidecar emits answers here with Blue Ocean's shape: actions
(the same list the document carries), the pipeline's queue (its runs that wait for
Jenkins; DELETE stops one) and trends, a run's change set, artifacts and tests (none are
kept: empty lists) and test summary, a step's input. Disabling and enabling a pipeline
are here too: Blue Ocean answers both with an empty 200.
"""

from __future__ import annotations

from flask import jsonify

from sidecar.api.blueocean.common import (PREFIX, blueprint, empty_response, paged, paging,
                                          route)
from sidecar.api.context import caller_session
from sidecar.readmodel import changes, control, names, queries, runs, states, trends
from sidecar.readmodel.steps import run_graph
from sidecar.services.pipelines import NotFound

bp = blueprint("blueocean_resources")
PIPELINE = PREFIX + "/<bo:pipeline>"
RUN = PIPELINE + "/runs/<run>"
NODE = RUN + "/nodes/<node>"


def _run(pipeline: str, run: str, read):
    with caller_session() as session:
        return read(queries.run(session, names.pipeline_id(pipeline), run))


@route(bp, PIPELINE + "/actions")
@route(bp, RUN + "/actions")
def no_actions(pipeline: str, run: str | None = None):
    """A pipeline's or run's actions: the sidecar attaches none."""
    if run is None:
        with caller_session() as session:
            queries.pipeline(session, names.pipeline_id(pipeline))
    else:
        _run(pipeline, run, lambda execution: None)
    return jsonify([])


@route(bp, PIPELINE + "/queue")
def queue(pipeline: str):
    """The pipeline's runs that wait for Jenkins, as queue items, newest first."""
    start, limit = paging()
    with caller_session() as session:
        pipeline_id = names.pipeline_id(pipeline)
        queries.pipeline(session, pipeline_id)
        items = [runs.queue_item_document(e) for e in queries.queued_runs(session, pipeline_id)]
    return paged(items[start:start + limit], start, limit)


@route(bp, PIPELINE + "/queue/<item>")
def queue_item(pipeline: str, item: str):
    """One queued run. :raise 404: no such run, or it has left the queue"""
    with caller_session() as session:
        return jsonify(runs.queue_item_document(_queued(session, pipeline, item)))


@route(bp, PIPELINE + "/queue/<item>", methods=("DELETE",))
def cancel_queue_item(pipeline: str, item: str):
    """Stop a queued run (Blue Ocean: cancel the queue item)."""
    with caller_session() as session:
        control.stop(session, _queued(session, pipeline, item))
    return empty_response()


def _queued(session, pipeline: str, item: str):
    execution = queries.run(session, names.pipeline_id(pipeline), item)
    if not states.is_queued(execution):
        raise NotFound(f"queue item {item} not found")
    return execution


@route(bp, PIPELINE + "/trends")
def trend_list(pipeline: str):
    """The pipeline's trends."""
    with caller_session() as session:
        pipeline_id = queries.pipeline(session, names.pipeline_id(pipeline)).id
    return jsonify(trends.trends(pipeline_id))


@route(bp, PIPELINE + "/trends/<trend>")
def trend(pipeline: str, trend: str):
    """One trend. :raise 404:"""
    return jsonify(trends.trend(_trend_pipeline(pipeline, trend), trend))


@route(bp, PIPELINE + "/trends/<trend>/rows")
def trend_rows(pipeline: str, trend: str):
    """A page of a trend's rows, one per run, newest first."""
    start, limit = paging()
    pipeline_id = _trend_pipeline(pipeline, trend)
    with caller_session() as session:
        rows = [trends.trend_row(trend, e)
                for e in queries.runs_with_steps(session, pipeline_id, start, limit)]
    return paged(rows, start, limit)


def _trend_pipeline(pipeline: str, trend_id: str) -> str:
    with caller_session() as session:
        pipeline_id = queries.pipeline(session, names.pipeline_id(pipeline)).id
    if trend_id not in trends.TREND_IDS:
        raise NotFound("not found")
    return pipeline_id


@route(bp, PIPELINE + "/disable", methods=("PUT",))
def disable(pipeline: str):
    """Start no more runs of the pipeline, from any trigger."""
    return _set_disabled(pipeline, True)


@route(bp, PIPELINE + "/enable", methods=("PUT",))
def enable(pipeline: str):
    """Start runs of the pipeline again."""
    return _set_disabled(pipeline, False)


def _set_disabled(pipeline: str, disabled: bool):
    with caller_session() as session:
        control.set_disabled(queries.pipeline(session, names.pipeline_id(pipeline)), disabled)
    return empty_response()


@route(bp, RUN + "/artifacts")
@route(bp, RUN + "/tests")
def nothing_kept(pipeline: str, run: str):
    """Artifacts and test results: the sidecar keeps none."""
    start, limit = paging()
    _run(pipeline, run, lambda execution: None)
    return paged([], start, limit)


@route(bp, RUN + "/blueTestSummary")
def test_summary(pipeline: str, run: str):
    """The run's test summary: nothing counted."""
    href = _run(pipeline, run, lambda e: names.run_href(e.pipeline_id, e.run))
    return jsonify(trends.test_summary_document(href))


@route(bp, RUN + "/changeSet")
def change_set(pipeline: str, run: str):
    """The commits the webhook that started the run delivered."""
    start, limit = paging()
    entries = _run(pipeline, run, changes.change_set)
    return paged(entries[start:start + limit], start, limit)


@route(bp, RUN + "/changeSet/<commit>")
def change(pipeline: str, run: str, commit: str):
    """One commit of the change set. :raise 404:"""
    for entry in _run(pipeline, run, changes.change_set):
        if entry["commitId"] == commit:
            return jsonify(entry)
    raise NotFound(f"commit {commit} not found in run {run}")


@route(bp, NODE + "/actions")
def node_actions(pipeline: str, run: str, node: str):
    """A node's actions: none."""
    with caller_session() as session:
        run_graph(session, names.pipeline_id(pipeline), run).node(node)
    return jsonify([])


def _step(pipeline: str, run: str, step: str, node: str | None):
    with caller_session() as session:
        return run_graph(session, names.pipeline_id(pipeline), run).step(step, node)


@route(bp, RUN + "/steps/<step>/actions")
@route(bp, NODE + "/steps/<step>/actions")
def step_actions(pipeline: str, run: str, step: str, node: str | None = None):
    """A step's actions: its log, and the pause while it waits for input."""
    return jsonify(_step(pipeline, run, step, node)["actions"])


@route(bp, RUN + "/steps/<step>/input")
@route(bp, NODE + "/steps/<step>/input")
def step_input(pipeline: str, run: str, step: str, node: str | None = None):
    """The input a paused step waits for. :raise 404: it waits for none"""
    document = _step(pipeline, run, step, node)["input"]
    if document is None:
        raise NotFound(f"step {step} waits for no input")
    return jsonify(document)
