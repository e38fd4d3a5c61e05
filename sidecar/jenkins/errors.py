"""Errors from talking to Jenkins.

We have our own exception types for everything that can go wrong between the sidecar and
Jenkins; nothing from ``requests`` crosses the client boundary. When a ``requests``
exception was the reason, it is chained as ``__cause__`` (``raise ... from exc``).

Messages carry the method, the path (never the query string, which may hold parameter
values), the status and at most 256 characters of the response body with markup removed.
They never carry request headers, so no credentials, crumbs or cookies.

``JenkinsUnavailable`` is the transient kind (connection refused or reset, timeouts,
502/503/504): callers retry later and must not fail a build because of it.
"""

from __future__ import annotations

import html
import re

from sidecar.errors import SidecarError

BODY_LIMIT = 256

_NOISE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


class JenkinsError(SidecarError):
    """Jenkins did not do what was asked."""

    def __init__(self, message: str, *, method: str = "", path: str = "",
                 status: int | None = None, body: str = ""):
        self.method = method
        self.path = path
        self.status = status
        self.body = excerpt(body)
        where = f"{method} {path}: " if method else ""
        code = f"HTTP {status}: " if status is not None else ""
        detail = f" ({self.body})" if self.body else ""
        super().__init__(f"Jenkins {where}{code}{message}{detail}")


class JenkinsUnavailable(JenkinsError):
    """Jenkins cannot be reached right now (refused, timed out, 502/503/504); try again later."""


class JenkinsAuthError(JenkinsError):
    """Jenkins rejected the credentials or the user lacks a permission (401/403)."""


class JenkinsNotFound(JenkinsError):
    """The job, build, queue item, flow node or input does not exist (404)."""


class JenkinsRequestError(JenkinsError):
    """Any other refusal or unexpected answer from Jenkins."""


def excerpt(body: str, *, limit: int = BODY_LIMIT) -> str:
    """The readable text of a response body, cut to ``limit`` characters."""
    if "<" in body:
        body = html.unescape(_TAG.sub(" ", _NOISE.sub(" ", body)))
    body = _SPACE.sub(" ", body).strip()
    return body if len(body) <= limit else body[:limit - 1] + "…"
