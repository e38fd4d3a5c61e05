"""The web UI's blueprint and what every UI request passes: who is signed in, CSRF, headers.

Sign-in takes an API token, checks it against the API's own token table and keeps only
the token's SHA-256 in Flask's signed session cookie (HttpOnly, SameSite=Strict, path
``/ui``). The token itself never reaches a page, a URL or the cookie, and a token taken
out of the token file ends its sessions with the next request. The cookie is signed with
the ``secret_key`` setting, so every worker process and replica accepts it.

Every form carries Flask-WTF's CSRF token: an HMAC (with the same key) of a random value
kept in the session. Another site's page can neither read it nor guess it, so it cannot
post a form in the name of a signed-in user — or, on an anonymous loopback service, in
the name of whoever has the UI open. The library is used for its token functions only,
not as an app-wide CSRFProtect, which would also demand tokens of the API's clients.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, g, redirect, render_template, request, session,
                   url_for)
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from sidecar.errors import ConfigError, SidecarError
from sidecar.services.access import (ANONYMOUS, Forbidden, Principal, Unauthenticated,
                                     loopback_only)
from sidecar.services.pipelines import Conflict, NotFound

log = logging.getLogger(__name__)
bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates",
               static_folder="static")

SESSION_TOKEN = "token"  # the signed-in token's SHA-256
OPEN_ENDPOINTS = ("ui.signin", "ui.signin_post", "ui.static")
STATUS = {NotFound: 404, Conflict: 409, Forbidden: 403, Unauthenticated: 401}
# Pages are the sidecar's own files only: no inline script or style, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def sidecar():
    """The running app's Sidecar state (settings, store, tokens, Jenkins)."""
    return current_app.extensions["sidecar"]


def principal() -> Principal:
    """Who is signed in (the anonymous writer when the service has no token file)."""
    return g.ui_principal


def require_write() -> None:
    """Refuse a change to a read-only token. :raise Forbidden:"""
    if not principal().can_write:
        raise Forbidden(f"user {principal().user} has read-only access")


def require_visible(project: str, what: str) -> None:
    """Another project's objects are missing to this user. :raise NotFound:"""
    if not principal().sees(project):
        raise NotFound(f"{what} not found")


def local_target(target: str | None) -> str:
    """A path inside the UI to go to after signing in; anything else is the UI's start."""
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and parts.path.startswith("/ui/") \
            and "\\" not in target:
        return target
    return url_for("ui.pipelines_list")


@bp.before_request
def _check_request():
    g.ui_principal = _session_principal()
    if request.endpoint == "ui.static":
        return None
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from None
    if g.ui_principal is None and request.endpoint not in OPEN_ENDPOINTS:
        if request.headers.get("X-Requested-With") == "fetch":
            raise Unauthenticated("your session has ended; sign in again")
        return redirect(url_for("ui.signin", next=request.full_path.rstrip("?")))
    return None


def _session_principal() -> Principal | None:
    state = sidecar()
    tokens = state.tokens
    if tokens is None:
        if not state.settings.allow_anonymous:
            loopback_only(request.remote_addr or "", request.host)
        return ANONYMOUS
    digest = session.get(SESSION_TOKEN)
    found = tokens.principal_of_digest(digest) if isinstance(digest, str) else None
    return found if found is not None and found.can_read else None


@bp.after_request
def _headers(response):
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint != "ui.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _template_globals():
    return {"csrf_token": generate_csrf, "principal": g.get("ui_principal"),
            "signed_in": sidecar().tokens is not None and g.get("ui_principal") is not None}


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError):
    return error_page(400, "This form has expired or did not come from this site. "
                           "Reload the page and try again.")


@bp.errorhandler(ConfigError)
def _invalid(error: ConfigError):
    return error_page(400, "Invalid input: " + "; ".join(error.lines))


@bp.errorhandler(SidecarError)
def _refused(error: SidecarError):
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    return error_page(status, str(error))


@bp.errorhandler(OperationalError)
def _database(_error: OperationalError):
    return error_page(503, "The database is unavailable; try again in a moment.")


@bp.errorhandler(HTTPException)
def _http(error: HTTPException):
    return error_page(error.code or 500, error.description or error.name)


@bp.errorhandler(Exception)
def _unexpected(_error: Exception):
    log.exception("request %s failed", g.get("request_id", "-"))
    return error_page(500, "Something went wrong; the sidecar's log has the details "
                           f"(request {g.get('request_id', '-')}).")


def error_page(status: int, message: str):
    """An HTML error page (JSON for the pages' own background requests)."""
    if request.headers.get("X-Requested-With") == "fetch":
        return {"message": message, "code": status}, status
    return render_template("ui/error.html", status=status, message=message), status
