"""The one request choke point between the sidecar and Jenkins: jenkinsapi's requester.

Every request, whether a jenkinsapi object sends it or the client does (for what
jenkinsapi lacks), goes through ``Requester.get_url`` / ``post_url`` of one requester per
client. Ours check the answer there and map every ``requests`` exception and every error
status to the types in ``sidecar.jenkins.errors``, so nothing from ``requests`` or
jenkinsapi gets past this module and jenkinsapi's own messages (which quote form data,
headers and bodies) are never raised.

Authentication (DESIGN section 7): with a user and an API token, Jenkins exempts requests
from CSRF protection: jenkinsapi's plain ``Requester``, no crumb. With a password (or
anonymously) POSTs need a crumb: jenkinsapi's ``CrumbRequester`` fetches one from
``/crumbIssuer/api/python`` before the first POST, keeps it with the session cookie it is
bound to, refetches once when a POST is refused with 403 (a restart drops sessions) and
never asks again when there is no crumb issuer (404: CSRF protection is off).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from jenkinsapi.jenkins import Jenkins
from jenkinsapi.utils.crumb_requester import CrumbRequester
from jenkinsapi.utils.requester import Requester

from sidecar.jenkins.errors import (JenkinsAuthError, JenkinsError, JenkinsNotFound,
                                    JenkinsRequestError, JenkinsUnavailable)
from sidecar.metrics import record

T = TypeVar("T")

# CrumbRequester logs every crumb it fetches at DEBUG; a crumb is a session's secret.
logging.getLogger("jenkinsapi.utils.crumb_requester").setLevel(logging.INFO)

CRUMB_PATH = "/crumbIssuer/api/python"  # where CrumbRequester asks
_TRANSIENT_STATUS = frozenset({502, 503, 504})
# A connection that drops mid-body is as transient as one that never opened.
_TRANSIENT_EXCEPTIONS = (requests.ConnectionError, requests.Timeout,
                         requests.exceptions.ChunkedEncodingError)
_ERROR_KINDS = ((JenkinsUnavailable, "unavailable"), (JenkinsAuthError, "auth"),
                (JenkinsNotFound, "not_found"), (JenkinsError, "request"))


class Transport:
    """One jenkinsapi ``Jenkins`` (lazy: it fetches nothing until asked) and its requester."""

    def __init__(self, *, url: str, user: str, token: str, password: str, timeout: float,
                 session: requests.Session | None):
        self.base = url.rstrip("/")
        secret = token or password
        kind = _TokenRequester if user and token else _CrumbRequester
        self.requester: Requester = kind(user or None, secret if user else None,
                                         baseurl=self.base, timeout=timeout, max_retries=None)
        self.requester.checker = _Checker(self.base, tuple(s for s in (token, password) if s))
        self._owns_session = session is None
        if session is not None:
            self.requester.session = session
        # lazy=True: jenkinsapi's Jenkins would otherwise fetch every job at once.
        self.jenkins = Jenkins(self.base, requester=self.requester, lazy=True, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session:
            self.requester.session.close()

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                data: Any = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """Send one request (plus a crumb fetch when needed); raise ours for every failure."""
        url, params, headers = self.base + path, dict(params or {}), dict(headers or {})
        if method == "GET":
            return self.requester.get_url(url, params=params or None, headers=headers or None)
        return self.requester.post_url(url, params=params or None, data=data,
                                       headers=headers or None)


class _Checker:
    """Turns jenkinsapi requester calls into answers we checked, or into our errors."""

    def __init__(self, base: str, secrets: tuple[str, ...]):
        self._prefix = urlsplit(base).path.rstrip("/")
        self._secrets = secrets

    def path(self, url: str) -> str:
        """The path below Jenkins' URL, without the query (which may hold values)."""
        path = urlsplit(url).path
        return path[len(self._prefix):] if path.startswith(self._prefix) else path

    def send(self, method: str, url: str, send: Callable[[], requests.Response]) -> \
            requests.Response:
        """Send, then check the answer; every call is timed for the metrics."""
        path, began = self.path(url), time.perf_counter()
        try:
            response = self._send(method, path, send)
        except JenkinsError as exc:
            kind = next(name for cls, name in _ERROR_KINDS if isinstance(exc, cls))
            record.jenkins_request(method, path, time.perf_counter() - began, kind)
            raise
        record.jenkins_request(method, path, time.perf_counter() - began)
        return response

    def _send(self, method: str, path: str, send: Callable[[], requests.Response]) -> \
            requests.Response:
        try:
            response = send()
        except JenkinsError:
            raise  # from the crumb fetch inside a POST: checked already
        except requests.RequestException as exc:
            kind = (JenkinsUnavailable if isinstance(exc, _TRANSIENT_EXCEPTIONS)
                    else JenkinsRequestError)
            raise kind(f"request failed ({type(exc).__name__})", method=method,
                       path=path) from exc
        except UnicodeError as exc:  # e.g. a lone surrogate in a form value: never sent
            raise JenkinsRequestError(f"the request cannot be encoded ({exc.reason})",
                                      method=method, path=path) from exc
        except (ValueError, SyntaxError, RuntimeError):  # CrumbRequester read no crumb
            raise JenkinsRequestError("the crumb issuer's answer cannot be read",
                                      method="GET", path=CRUMB_PATH) from None
        self.check(response, method, path)
        return response

    def check(self, response: requests.Response, method: str, path: str) -> None:
        """Raise ours for an error status."""
        status = response.status_code
        if status < 400 or (status == 404 and path == CRUMB_PATH):  # 404: CSRF is off
            return
        kind: type[JenkinsError] = JenkinsRequestError
        if status in (401, 403):
            kind = JenkinsAuthError
        elif status == 404:
            kind = JenkinsNotFound
        elif status in _TRANSIENT_STATUS:
            kind = JenkinsUnavailable
        body = response.text
        for secret in self._secrets:
            body = body.replace(secret, "***")
        raise kind(response.reason or "error", method=method, path=path, status=status,
                   body=body)


class _Checked:
    """A jenkinsapi requester whose answers are checked (mixed in before the requester)."""

    checker: _Checker

    def get_url(self, url: str, params: Any = None, headers: Any = None,
                allow_redirects: bool = True, stream: bool = False) -> requests.Response:
        parent = super()
        return self.checker.send("GET", url, lambda: parent.get_url(
            url, params, headers, allow_redirects, stream))

    def post_url(self, url: str, params: Any = None, data: Any = None, files: Any = None,
                 headers: Any = None, allow_redirects: bool = True,
                 **kwargs: Any) -> requests.Response:
        parent = super()
        # POSTs answer with redirects to HTML pages (stop, doDelete, cancelItem): skip them.
        return self.checker.send("POST", url, lambda: parent.post_url(
            url, params, data, files, headers, False, **kwargs))


class _TokenRequester(_Checked, Requester):
    """Basic auth with an API token: no crumb."""


class _CrumbRequester(_Checked, CrumbRequester):
    """Password or anonymous: a crumb on every POST."""


def parse_json(parser: Callable[[Any], T], response: requests.Response, path: str) -> T:
    """Decode a JSON answer and build our object; a surprise becomes JenkinsRequestError."""
    try:
        return parser(json.loads(response.content))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise JenkinsRequestError(f"unexpected answer ({type(exc).__name__}: {exc})",
                                  method=response.request.method or "", path=path,
                                  status=response.status_code) from exc


def parse(parser: Callable[[Any], T], doc: Any, method: str, path: str) -> T:
    """Build our object from what jenkinsapi read; a surprise becomes JenkinsRequestError."""
    try:
        return parser(doc)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise JenkinsRequestError(f"unexpected answer ({type(exc).__name__}: {exc})",
                                  method=method, path=path) from exc
