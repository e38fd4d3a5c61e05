"""Native API for notifiers: /api/v1/notifiers (secrets write-only, other projects unseen)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from sidecar.api.auth import current_principal
from sidecar.api.context import json_body, sidecar
from sidecar.services import notifiers

bp = Blueprint("notifiers", __name__, url_prefix="/api/v1/notifiers")


@bp.get("")
def list_notifiers():
    """The notifiers of the projects the caller sees (?project=)."""
    with sidecar().store.session() as session:
        found = notifiers.listing(session, current_principal(), request.args.get("project"))
        return jsonify([notifiers.view(n) for n in found])


@bp.post("")
def create_notifier():
    """Register a notifier. :raise 400: bad fields; :raise 404: project unseen; :raise 409:"""
    with sidecar().store.session() as session:
        notifier = notifiers.create(session, json_body(), current_principal())
        return jsonify(notifiers.view(notifier)), 201


@bp.get("/<project>/<name>")
def get_notifier(project: str, name: str):
    """One notifier. :raise 404:"""
    with sidecar().store.session() as session:
        return jsonify(notifiers.view(notifiers.get(session, project, name,
                                                    current_principal())))


@bp.put("/<project>/<name>")
def update_notifier(project: str, name: str):
    """Change a notifier; a secret left out is kept. :raise 400, 404:"""
    with sidecar().store.session() as session:
        notifier = notifiers.update(session, project, name, json_body(), current_principal())
        return jsonify(notifiers.view(notifier))


@bp.delete("/<project>/<name>")
def delete_notifier(project: str, name: str):
    """Remove a notifier. :raise 404:"""
    with sidecar().store.session() as session:
        notifiers.delete(session, project, name, current_principal())
    return "", 204
