"""Native API for pipelines: /api/v1/pipelines."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sidecar.api.context import caller_session, json_body
from sidecar.services import bounded, pipelines

bp = Blueprint("pipelines", __name__, url_prefix="/api/v1/pipelines")


@bp.get("")
def list_pipelines():
    """Pipelines, optionally of one project (?project=)."""
    with caller_session() as session:
        found = pipelines.listing(session, request.args.get("project"))
        return jsonify([pipelines.view(p) for p in found])


@bp.post("")
def create_pipeline():
    """Create a pipeline. :raise 400: bad fields or config; :raise 409: it exists."""
    with caller_session() as session:
        pipeline = pipelines.create(session, json_body())
        return jsonify(pipelines.view(pipeline)), 201


@bp.get("/<pipeline_id>")
def get_pipeline(pipeline_id: str):
    """One pipeline. :raise 404: unknown id."""
    with caller_session() as session:
        return jsonify(pipelines.view(pipelines.get(session, pipeline_id)))


@bp.put("/<pipeline_id>")
def update_pipeline(pipeline_id: str):
    """Change a pipeline's source or triggers. :raise 400, 404:"""
    with caller_session() as session:
        return jsonify(pipelines.view(pipelines.update(session, pipeline_id, json_body())))


@bp.get("/<pipeline_id>/history")
def pipeline_history(pipeline_id: str):
    """Where the pipeline's executions ran, newest first (?limit=, at most 500). :raise 404:"""
    limit = bounded.integer(request.args.get("limit", "50"), "limit", 1, 500)
    with caller_session() as session:
        return jsonify(pipelines.history(session, pipeline_id, limit))


@bp.delete("/<pipeline_id>")
def delete_pipeline(pipeline_id: str):
    """Delete a pipeline; ``?history=true`` also its finished executions. :raise 404, 409:"""
    history = bounded.boolean(request.args.get("history", "false"), "history")
    with caller_session() as session:
        pipelines.delete(session, pipeline_id, history=history)
    return "", 204
