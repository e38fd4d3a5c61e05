"""Request and response helpers shared by the Blue Ocean blueprints.

Every path answers with and without its trailing slash (clients concatenate hrefs),
without redirecting. Lists are paged by ``start``/``limit`` (default 100) and always
carry a ``Link: <…>; rel="next"`` header, as Blue Ocean's @PagedResponse does.
"""

from __future__ import annotations

from functools import cache
from typing import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from sidecar.errors import ConfigError, Problem
from sidecar.readmodel.logs import DEFAULT_THRESHOLD_KB, StepLog, window
from sidecar.readmodel.names import FOLDER_SEPARATOR
from sidecar.services import bounded

PREFIX = "/blue/rest/organizations/jenkins/pipelines"
DEFAULT_LIMIT = 100


PIPELINE_PART = "<bo:pipeline>"
"""Where a rule takes a Blue Ocean pipeline name: ``sidecar.project.name`` or
``project/pipelines/name`` (the folder form)."""


def blueprint(name: str) -> Blueprint:
    """A blueprint for Blue Ocean views; its rules are registered through :func:`route`."""
    return Blueprint(name, __name__)


def route(bp: Blueprint, rule: str, methods: tuple[str, ...] = ("GET",)) -> Callable:
    """Register a view at rule and at rule + '/' (no redirect between them).

    A rule with ``<bo:pipeline>`` is registered twice, once per name form, each with
    path segments of their own: Werkzeug matches such rules segment by segment, where
    one converter spanning a slash would make it try every pipeline rule's whole
    regex in turn (146 µs a request instead of a few).
    """
    def register(view: Callable) -> Callable:
        forms = [(rule, view)]
        if PIPELINE_PART in rule:
            forms = [(rule.replace(PIPELINE_PART, "<pipeline>"), view),
                     (rule.replace(PIPELINE_PART, f"<folder>{FOLDER_SEPARATOR}<leaf>"),
                      _joined(view))]
        for index, (form, target) in enumerate(forms):
            for path in (form, form + "/"):
                bp.add_url_rule(path, f"{view.__name__}{'_folder' * index}", target,
                                methods=list(methods))
        return view
    return register


@cache  # one function per view, as Flask wants one per endpoint
def _joined(view: Callable) -> Callable:
    """The view taking the folder form's two parts as one pipeline name."""
    def folder_view(folder: str, leaf: str, **values):
        return view(pipeline=f"{folder}{FOLDER_SEPARATOR}{leaf}", **values)
    return folder_view


def paging() -> tuple[int, int]:
    """``start`` and ``limit`` of the request; negative values mean the defaults."""
    values = []
    for name, default in (("start", 0), ("limit", DEFAULT_LIMIT)):
        value = _signed(request.args.get(name, str(default)).strip(), name)
        values.append(default if value < 0 else min(value, 2**31 - 1))
    return values[0], values[1]


def paged(items: list | str, start: int, limit: int) -> Response:
    """A JSON list (or its text) with the next-page Link header."""
    others = urlencode([(key, value) for key, value in request.args.items(multi=True)
                        if key not in ("start", "limit")])
    query = f"{others}&" if others else ""
    response = json_text(items) if isinstance(items, str) else jsonify(items)
    response.headers["Link"] = \
        f'<{request.path}?{query}start={start + limit}&limit={limit}>; rel="next"'
    return response


def json_text(body: str, etag: str | None = None) -> Response:
    """A JSON answer from its text; with an etag, a 304 when the client has that text."""
    if etag is not None and request.if_none_match.contains_weak(etag):  # RFC 9110: weak
        response = Response(status=304)
    else:
        response = Response(body + "\n", mimetype="application/json")
    if etag is not None:  # final text: a client keeps it and asks whether it changed
        response.set_etag(etag)
        response.headers["Cache-Control"] = "no-cache"
    return response


def empty_response() -> Response:
    """Jenkins' answer to a void web method: 200, no body, no content type."""
    response = Response(status=200)
    del response.headers["Content-Type"]
    return response


def flag(name: str, default: bool = False) -> bool:
    """A true/false query parameter. :raise ConfigError:"""
    text = request.args.get(name)
    return default if text is None else bounded.boolean(text, name)


def integer(name: str, default: int, minimum: int = 0) -> int:
    """An integer query parameter of at least minimum. :raise ConfigError:"""
    text = request.args.get(name)
    if text is None:
        return default
    value = _signed(text, name)
    if value < minimum:
        raise ConfigError(Problem(f"{name} must be at least {minimum}", config_path=name))
    return value


def _signed(text: str, name: str) -> int:
    """An optionally negative integer of ASCII digits. :raise ConfigError:"""
    if not bounded.digits(text.removeprefix("-"), longest=100):
        raise ConfigError(Problem(f"{name} must be an integer", config_path=name))
    return int(text)


def log_start() -> int | None:
    """The ``start`` a log request asks for; None: the last ``thresholdInKB``."""
    return integer("start", 0) if "start" in request.args else None


def log_response(found: StepLog, *, whole: bool = False) -> Response:
    """A log answer: the bytes from ``start`` (default the last ``thresholdInKB``) on."""
    if whole:  # a node log: always all of it
        start, threshold = 0, 0
    else:
        start, threshold = log_start(), integer("thresholdInKB", DEFAULT_THRESHOLD_KB)
    part = window(found, start, threshold_kb=threshold)
    response = Response(part.body, content_type="text/plain;charset=UTF-8")
    response.headers["X-Text-Size"] = str(part.size)
    response.headers["X-Text-Delivered"] = str(len(part.body))
    if part.more:
        response.headers["X-More-Data"] = "true"
    if flag("download"):
        response.headers["Content-Disposition"] = "attachment; filename=log.txt"
    return response
