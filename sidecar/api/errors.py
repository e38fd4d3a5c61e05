"""One JSON error envelope for every failure, in the Blue Ocean error shape.

``{"message": ..., "code": ..., "errors": [{"message": ...}], "requestId": ...}``.
Client errors say what was wrong; unexpected errors say only that something failed
(the details go to the log, with the request id), never a traceback.
"""

from __future__ import annotations

import logging
import uuid

from flask import Blueprint, Flask, g, jsonify
from werkzeug.exceptions import HTTPException

from sidecar.engine.callbacks import Unauthorized
from sidecar.engine.pipelines import Conflict, NotFound
from sidecar.errors import ConfigError, SidecarError

log = logging.getLogger(__name__)
bp = Blueprint("errors", __name__)


def envelope(code: int, message: str, errors: list[dict] | None = None):
    """A JSON error response."""
    body = {"message": message, "code": code, "errors": errors or [],
            "requestId": getattr(g, "request_id", None)}
    return jsonify(body), code


@bp.before_app_request
def _request_id() -> None:
    g.request_id = uuid.uuid4().hex


@bp.app_errorhandler(HTTPException)
def _http(error: HTTPException):
    return envelope(error.code or 500, error.description or error.name)


@bp.app_errorhandler(ConfigError)
def _config(error: ConfigError):
    return envelope(400, "invalid input", [
        {"message": p.message, "field": p.config_path or None,
         "position": str(p.pos) if p.pos else None} for p in error.problems])


@bp.app_errorhandler(NotFound)
def _not_found(error: NotFound):
    return envelope(404, str(error))


@bp.app_errorhandler(Unauthorized)
def _unauthorized(error: Unauthorized):
    return envelope(401, str(error))


@bp.app_errorhandler(Conflict)
def _conflict(error: Conflict):
    return envelope(409, str(error))


@bp.app_errorhandler(SidecarError)
def _sidecar(error: SidecarError):
    return envelope(400, str(error))


@bp.app_errorhandler(Exception)
def _unexpected(error: Exception):
    log.exception("request %s failed", getattr(g, "request_id", "-"))
    return envelope(500, "internal error; see the sidecar log for this requestId")


def register(app: Flask) -> None:
    """Install the handlers."""
    app.register_blueprint(bp)
