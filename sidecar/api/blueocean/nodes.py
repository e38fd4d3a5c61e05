"""Blue Ocean nodes and steps of a run, and step logs (GET only; input POSTs are elsewhere)."""

from __future__ import annotations

import json

from flask import jsonify

from sidecar.api.blueocean.common import (PREFIX, blueprint, log_response, log_start, paged,
                                          paging, route)
from sidecar.api.conditional import final
from sidecar.api.context import caller_session, sidecar
from sidecar.readmodel import documents, logs, names
from sidecar.readmodel.steps import run_graph, run_shape
from sidecar.store.models import END_STATES

bp = blueprint("blueocean_nodes")
RUN = PREFIX + "/<bo:pipeline>/runs/<run>"
NODE = RUN + "/nodes/<node>"


def _read(pipeline: str, run: str, read) -> tuple:
    """What `read` takes from the run's graph, in one store session; and whether the run
    has finished (so the answer is final)."""
    with caller_session() as session:
        graph = run_graph(session, names.pipeline_id(pipeline), run)
        return read(graph), graph.execution.state in END_STATES


def _document(pipeline: str, run: str, read):
    """One document read from the run's graph."""
    document, done = _read(pipeline, run, read)
    return final(jsonify(document), done)


def _paged(pipeline: str, run: str, read):
    """One page (``start``, ``limit``) of a list read from the run's graph."""
    start, limit = paging()
    items, done = _read(pipeline, run, read)
    return final(paged(items[start:start + limit], start, limit), done)


@route(bp, RUN + "/nodes")
def list_nodes(pipeline: str, run: str):
    """The run's stages and parallel branches, as a DAG walk; a finished run's as stored."""
    start, limit = paging()
    pipeline_id, built = names.pipeline_id(pipeline), []
    with caller_session() as session:
        body = documents.stored_nodes(session, pipeline_id, run)
        if body is None:
            found = run_graph(session, pipeline_id, run)
            nodes = found.nodes()
            built = documents.nodes_to_store(found.execution, nodes)
    documents.remember(sidecar().store.engine, built)
    if body is not None:
        nodes = json.loads(body)
        if start == 0 and len(nodes) <= limit:  # the whole list: the stored text as it is
            return final(paged(body, start, limit), True)
    return final(paged(nodes[start:start + limit], start, limit), body is not None or bool(built))


@route(bp, NODE)
def get_node(pipeline: str, run: str, node: str):
    """One node. :raise 404:"""
    return _document(pipeline, run, lambda graph: graph.node(node))


@route(bp, NODE + "/steps")
def list_node_steps(pipeline: str, run: str, node: str):
    """The steps of a node (a stage: those of its branches)."""
    return _paged(pipeline, run, lambda graph: graph.steps(node))


@route(bp, RUN + "/steps")
def list_run_steps(pipeline: str, run: str):
    """Every step of the run."""
    return _paged(pipeline, run, lambda graph: graph.steps())


@route(bp, RUN + "/steps/<step>")
def get_run_step(pipeline: str, run: str, step: str):
    """One step by its id. :raise 404:"""
    return _document(pipeline, run, lambda graph: graph.step(step))


@route(bp, NODE + "/steps/<step>")
def get_node_step(pipeline: str, run: str, node: str, step: str):
    """One step of a node. :raise 404:"""
    return _document(pipeline, run, lambda graph: graph.step(step, node))


@route(bp, NODE + "/log")
def node_log(pipeline: str, run: str, node: str):
    """The logs of a node's steps, one after another (no ``start``, as in Blue Ocean)."""
    state = sidecar()
    with caller_session() as session:
        found = run_shape(session, names.pipeline_id(pipeline), run)
        parts = [logs.step_log(session, found.execution, branch.row, state.jenkins)
                 for branch in found.branches(node)]
    logs.remember(state.store.engine, tuple(mark for part in parts for mark in part.marks))
    text, complete = b"".join(part.text for part in parts), all(p.complete for p in parts)
    response = log_response(logs.StepLog(text, complete), whole=True)
    if not text:  # Blue Ocean sends X-Text-Size only for a non-empty node log
        del response.headers["X-Text-Size"]
    return final(response, complete)


@route(bp, RUN + "/steps/<step>/log")
def run_step_log(pipeline: str, run: str, step: str):
    """A step's log from ``start``: archived, or live from Jenkins while it runs."""
    return _step_log(pipeline, run, step, None)


@route(bp, NODE + "/steps/<step>/log")
def node_step_log(pipeline: str, run: str, node: str, step: str):
    """A step's log, under its node."""
    return _step_log(pipeline, run, step, node)


def _step_log(pipeline: str, run: str, step: str, node: str | None):
    state, start = sidecar(), log_start()
    with caller_session() as session:
        found = run_shape(session, names.pipeline_id(pipeline), run)
        branch = found.branch(step, node)
        read = logs.step_log(session, found.execution, branch.row, state.jenkins, start or 0)
    logs.remember(state.store.engine, read.marks)
    return final(log_response(read), read.complete)
