"""Liveness and readiness: is the process up, can it reach its database and Jenkins."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from sidecar.api.context import sidecar
from sidecar.services import leadership

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready when the database answers and this replica's engine beats; Jenkins is reported."""
    state = sidecar()
    settings = state.settings
    body = {"database": "unreachable", "jenkins": state.jenkins_status(), "engine": None}
    # An engine runs beside the workers when `serve` named this replica and Jenkins is set.
    instance = settings.instance_id if settings.jenkins_url else ""
    stale_after = 2 * settings.leader_ttl + 3 * settings.sync_interval
    try:
        with state.store.session() as session:
            body["engine"], fresh = leadership.engine_status(session, instance, stale_after)
        body["database"] = "ok"
    except SQLAlchemyError:
        fresh = False
    if body["database"] == "ok" and not fresh:
        body["engine"]["problem"] = f"no heartbeat of this replica's engine for {stale_after:g} s"
    return jsonify(body), 200 if body["database"] == "ok" and fresh else 503
