"""Callbacks from Jenkins builds: /api/v1/callbacks/executions/{id}/…, per-execution token."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from sidecar.api.context import json_body, sidecar
from sidecar.errors import ConfigError, Problem
from sidecar.services import callbacks

bp = Blueprint("callbacks", __name__, url_prefix="/api/v1/callbacks")
NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
MAX_SLOT = 10_000  # far more concurrent runs of one pipeline than one node can hold


@bp.post("/executions/<execution_id>/node")
def report_node(execution_id: str):
    """The build's pod reports its node and claimed cache slot: {nodeName, cacheSlot?}.

    :raise 401: bad token; :raise 400: bad body
    """
    token = _token()
    with sidecar().store.session() as session:  # the token is checked before the body is read
        callbacks.authorized(session, execution_id, token)
    body = json_body()
    node, slot = body.get("nodeName"), body.get("cacheSlot")
    if not isinstance(node, str) or not NODE_NAME.match(node):
        raise ConfigError(Problem("nodeName must be a Kubernetes node name"))
    if slot is not None and (type(slot) is not int or not 0 <= slot < MAX_SLOT):
        raise ConfigError(Problem(f"cacheSlot must be an integer from 0 to {MAX_SLOT - 1}"))
    with sidecar().store.session() as session:
        recorded = callbacks.report_node(session, execution_id, token, node, slot)
    return jsonify(recorded=recorded)


@bp.post("/executions/<execution_id>/steps/<int:stage>/<int:step>/<event>")
def report_step(execution_id: str, stage: int, step: int, event: str):
    """A step of the build started or ended; the engine looks at the run next cycle.

    :raise 401: bad token; :raise 404: no such step or event
    """
    with sidecar().store.session() as session:
        recorded = callbacks.report_step(session, execution_id, _token(), (stage, step), event)
    return jsonify(recorded=recorded)


def _token() -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
