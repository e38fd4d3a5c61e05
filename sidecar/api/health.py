"""Liveness and readiness: is the process up, can it reach its database and Jenkins."""

from __future__ import annotations

from flask import Blueprint, jsonify

from sidecar.api.context import sidecar

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready when the database answers; Jenkins' state is reported, not required."""
    state = sidecar()
    database = "ok" if state.store.ping() else "unreachable"
    body = {"database": database, "jenkins": state.jenkins_status()}
    return jsonify(body), 200 if database == "ok" else 503
