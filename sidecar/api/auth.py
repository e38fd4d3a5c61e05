"""Who may call what: bearer tokens, their level and projects, and anonymous loopback use.

Levels: ``read`` for GET (and the POSTs that only read), ``write`` for the rest,
``cache-report`` only for ``POST /api/v1/nodes/{node}/caches`` (a node's gc report,
which a write token may send too when it sees every project). Which projects a caller
sees is enforced by its store sessions (``sidecar.api.context.session``).

Without a token file every caller is the anonymous writer. On a loopback address that
is what ``make run`` wants, and a browser page must not be able to use it: the peer
must be a loopback address, the ``Host`` a loopback name or literal (DNS rebinding
makes an attacker's name point at 127.0.0.1, but the browser still sends that name),
and a state-changing request needs ``Content-Type: application/json`` (which a page
can only send cross-origin after a CORS preflight the sidecar never grants) or a
same-origin ``Origin``. A blueprint that checks its own CSRF token (HTML forms) may
say so with :func:`checks_its_own_csrf`; a cross-site ``Origin`` is refused there too.

Webhooks, build callbacks and the health endpoints carry their own credentials (or
none) and are not checked here; nor is ``/metrics``, whose labels name no project
(``sidecar.api.metrics``).
"""

from __future__ import annotations

from flask import Blueprint, g, request

from sidecar.api.context import sidecar
from sidecar.services.access import ANONYMOUS, Forbidden, Principal, loopback_only

bp = Blueprint("auth", __name__)

OPEN_PREFIXES = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/hooks/",
                 "/api/v1/callbacks/")
# The web UI signs its users in itself, with the same tokens, into a session cookie.
UI_PREFIX = "/ui"
# POSTs that change nothing: Blue Ocean's capability look-up and its usage analytics (dropped),
# rendering and validation.
READ_POSTS = ("/blue/rest/classes", "/blue/rest/analytics/track", "/api/v1/render",
              "/api/v1/validate")
CACHE_REPORT = "nodes.report_caches"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_OWN_CSRF_CHECK: set[str] = set()


def checks_its_own_csrf(blueprint: Blueprint) -> Blueprint:
    """Mark a blueprint whose state-changing routes verify their own CSRF token."""
    _OWN_CSRF_CHECK.add(blueprint.name)
    return blueprint


@bp.before_app_request
def _authenticate() -> None:
    path = request.path
    if path.startswith(OPEN_PREFIXES) or path == UI_PREFIX or path.startswith(UI_PREFIX + "/"):
        return
    g.principal = _principal()
    _check_level(g.principal)


def _check_level(principal: Principal) -> None:
    if request.endpoint == CACHE_REPORT and request.method == "POST":
        if principal.access == "cache-report" or (principal.can_write and principal.sees_all):
            return
        raise Forbidden("node cache reports need a cache-report token")
    if principal.access == "cache-report":
        raise Forbidden(f"user {principal.user} may only report node caches")
    writes = request.method not in SAFE_METHODS and not request.path.startswith(READ_POSTS)
    if writes and not principal.can_write:
        raise Forbidden(f"user {principal.user} has read-only access")


def _principal() -> Principal:
    state = sidecar()
    if state.tokens is None:
        if not state.settings.allow_anonymous:
            loopback_only(request.remote_addr or "", request.host)
        _same_origin_writes()
        return ANONYMOUS
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return state.tokens.principal(token.strip() if scheme.lower() == "bearer" else "")


def _same_origin_writes() -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
        raise Forbidden("cross-origin requests are refused")
    if request.method in SAFE_METHODS or origin is not None or \
            request.blueprint in _OWN_CSRF_CHECK:
        return
    if request.mimetype != "application/json":
        raise Forbidden("a state-changing request needs Content-Type: application/json")


def current_principal() -> Principal:
    """The caller of the current request."""
    return g.get("principal", ANONYMOUS)
