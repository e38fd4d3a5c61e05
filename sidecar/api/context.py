"""Access to the per-app state kept in ``app.extensions['sidecar']``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from sidecar.errors import ConfigError, Problem


def sidecar():
    """The running app's Sidecar state (settings, store, templates)."""
    return current_app.extensions["sidecar"]


def json_body() -> dict[str, Any]:
    """The request's JSON object; a 400 envelope when it is missing or not an object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ConfigError(Problem("the request body must be a JSON object"))
    return body
