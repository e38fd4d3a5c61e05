"""One JSON error envelope for every failure, in the Blue Ocean error shape.

``{"message": ..., "code": ..., "errors": [{"message": ...}], "requestId": ...}``.
Client errors say what was wrong; unexpected errors say only that something failed
(the details go to the log, with the request id), never a traceback.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, g, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from sidecar.errors import ConfigError, Problem, SidecarError
from sidecar.scm import ScmError
from sidecar.services.access import Forbidden, Unauthenticated
from sidecar.services.callbacks import Unauthorized
from sidecar.services.pipelines import Conflict, NotFound
from sidecar.store import StoreError

log = logging.getLogger(__name__)
bp = Blueprint("errors", __name__)


def envelope(code: int, message: str, errors: list[dict] | None = None):
    """A JSON error response."""
    body = {"message": message, "code": code, "errors": errors or [],
            "requestId": getattr(g, "request_id", None)}
    return jsonify(body), code


@bp.app_errorhandler(HTTPException)
def _http(error: HTTPException):
    return envelope(error.code or 500, error.description or error.name)


# Our errors and the HTTP status each one means; anything else of ours is a 400.
STATUS = {NotFound: 404, Conflict: 409, Unauthorized: 401, Unauthenticated: 401,
          Forbidden: 403, StoreError: 503, ScmError: 502}


def problem_view(problem: Problem) -> dict:
    """One config problem as the API shows it."""
    return {"message": problem.message, "field": problem.config_path or None,
            "position": str(problem.pos) if problem.pos else None}


@bp.app_errorhandler(ConfigError)
def _config(error: ConfigError):
    return envelope(400, "invalid input", [problem_view(p) for p in error.problems])


@bp.app_errorhandler(SidecarError)
def _sidecar(error: SidecarError):
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    response, code = envelope(status, str(error))
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="jenkins-sidecar"'
    return response, code


@bp.app_errorhandler(OperationalError)
def _database(error: OperationalError):
    log.warning("database unavailable: %s", error.orig)
    return envelope(503, "the database is unavailable; try again")


@bp.app_errorhandler(Exception)
def _unexpected(error: Exception):
    log.exception("request %s failed", getattr(g, "request_id", "-"))
    return envelope(500, "internal error; see the sidecar log for this requestId")


def register(app: Flask) -> None:
    """Install the handlers."""
    app.register_blueprint(bp)
