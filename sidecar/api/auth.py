"""Bearer-token authentication for the API: read for GET, write for the rest.

Webhooks, build callbacks and the health endpoints carry their own credentials (or
none) and are not checked here. Without a token file every caller is the anonymous
writer — the settings allow that only on a loopback address (or when asked to).
"""

from __future__ import annotations

from flask import Blueprint, g, request

from sidecar.api.context import sidecar
from sidecar.services.access import ANONYMOUS, Forbidden, Principal

bp = Blueprint("auth", __name__)

OPEN_PREFIXES = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/hooks/",
                 "/api/v1/callbacks/")
# The web UI signs its users in itself, with the same tokens, into a session cookie.
UI_PREFIX = "/ui"
# POSTs that only read: Blue Ocean's capability look-up, rendering and validation.
READ_POSTS = ("/blue/rest/classes", "/api/v1/render", "/api/v1/validate")


@bp.before_app_request
def _authenticate() -> None:
    path = request.path
    if path.startswith(OPEN_PREFIXES) or path == UI_PREFIX or path.startswith(UI_PREFIX + "/"):
        return
    g.principal = _principal()
    writes = request.method not in ("GET", "HEAD", "OPTIONS") and \
        not path.startswith(READ_POSTS)
    if writes and not g.principal.can_write:
        raise Forbidden(f"user {g.principal.user} has read-only access")


def _principal() -> Principal:
    tokens = sidecar().tokens
    if tokens is None:
        return ANONYMOUS
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return tokens.principal(token.strip() if scheme.lower() == "bearer" else "")


def current_principal() -> Principal:
    """The caller of the current request."""
    return g.get("principal", ANONYMOUS)
