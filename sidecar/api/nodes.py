"""Node caches: /api/v1/nodes/{node}/caches, reported by each node's `cache gc`."""

from __future__ import annotations

from flask import Blueprint, jsonify

from sidecar.api.callbacks import NODE_NAME
from sidecar.api.context import caller_session, json_body, sidecar
from sidecar.errors import ConfigError, Problem
from sidecar.services import nodecaches

bp = Blueprint("nodes", __name__, url_prefix="/api/v1/nodes")


def _node(node: str) -> str:
    if not NODE_NAME.match(node):
        raise ConfigError(Problem("the node must be a Kubernetes node name"))
    return node


@bp.post("/<node>/caches")
def report_caches(node: str):
    """Record a gc report: {caches: [{directory, sizeBytes, lastUsedAt, state}]}. :raise 400:"""
    body = json_body()
    with sidecar().store.session() as session:  # a report covers every project's caches
        counts = nodecaches.record_report(session, _node(node), body)
    return jsonify(node=node, **counts)


@bp.get("/<node>/caches")
def list_caches(node: str):
    """The node's cache directories as last reported (of the caller's projects). :raise 400:"""
    with caller_session() as session:
        return jsonify([nodecaches.view(row) for row in nodecaches.listing(session, _node(node))])
