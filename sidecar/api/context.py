"""Access to the per-app state kept in ``app.extensions['sidecar']``, and the caller's session."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from flask import current_app, g, request
from sqlalchemy.orm import Session

from sidecar.errors import ConfigError, Problem
from sidecar.store.scope import restrict


def sidecar():
    """The running app's Sidecar state (settings, store, templates)."""
    return current_app.extensions["sidecar"]


@contextmanager
def caller_session() -> Iterator[Session]:
    """A store session that sees only the caller's projects; others' rows do not exist in it.

    A GET or HEAD only reads: its session is the store's reader (no transaction round
    trips on PostgreSQL).
    """
    principal = g.get("principal")
    store = sidecar().store
    with (store.reader() if request.method in ("GET", "HEAD") else store.session()) as opened:
        yield restrict(opened, principal.projects if principal is not None else None)


def json_body() -> dict[str, Any]:
    """The request's JSON object; a 400 envelope when it is missing or not an object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ConfigError(Problem("the request body must be a JSON object"))
    return body
