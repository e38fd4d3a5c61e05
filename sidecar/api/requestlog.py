"""Request ids and the access log: one line per request, carrying the request id.

A caller's ``X-Request-Id`` is kept when it is a plain token (letters, digits, ``._:-``,
at most 128), so a portal can follow its own id through our log; anything else is
replaced by a fresh id rather than echoed into a header. The id is returned in the
``X-Request-Id`` header and in every error envelope. The access line shows the path
without its query string: Docker Hub hooks carry their secret there.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Blueprint, Response, g, request

from sidecar import logs
from sidecar.metrics import record

bp = Blueprint("requestlog", __name__)
access = logging.getLogger(logs.ACCESS_LOGGER)

_PLAIN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Label values stay bounded: a method of its own or a path that matches no route is "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@bp.before_app_request
def _begin() -> None:
    offered = request.headers.get("X-Request-Id", "")
    g.request_id = offered if _PLAIN_ID.match(offered) else uuid.uuid4().hex
    g.request_began = time.perf_counter()
    logs.bind_request(g.request_id)


@bp.after_app_request
def _finish(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id") or uuid.uuid4().hex
    principal = g.get("principal")
    took = (time.perf_counter() - g.get("request_began", time.perf_counter())) * 1000
    record.http_request(request.url_rule.rule if request.url_rule else "other",
                        request.method if request.method in _METHODS else "other",
                        response.status_code, took / 1000)
    access.info("%s %s %s", request.method, request.path, response.status_code, extra={
        "fields": {"method": request.method, "path": request.path,
                   "status": response.status_code, "durationMs": round(took, 1),
                   "bytes": response.calculate_content_length(),
                   "remote": request.remote_addr,
                   "user": principal.user if principal is not None else None}})
    return response


@bp.teardown_app_request
def _forget(_error) -> None:
    logs.bind_request(None)
