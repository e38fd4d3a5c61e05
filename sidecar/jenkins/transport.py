"""The one request choke point between the sidecar and Jenkins.

``Transport.request`` adds authentication and the CSRF crumb, applies the timeout, and maps
every ``requests`` exception and every error status to the types in
``sidecar.jenkins.errors``; nothing from ``requests`` gets past it.

Authentication (DESIGN section 7): with a user and an API token, Jenkins exempts requests
from CSRF protection and no crumb is fetched. With a password (or anonymously) POSTs need a
crumb from ``/crumbIssuer/api/json``. Jenkins binds it to the web session, so the session
cookie stays in the ``requests.Session``; the crumb is fetched once per session and refetched
once when Jenkins answers 403 about the crumb (a restart drops sessions). Rancher fetched a
crumb without keeping cookies and broke on Jenkins 2.176.2 ("403 No valid crumb").
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests

from sidecar.jenkins.errors import (JenkinsAuthError, JenkinsError, JenkinsNotFound,
                                    JenkinsRequestError, JenkinsUnavailable)
from sidecar.metrics import record

T = TypeVar("T")

CRUMB_PATH = "/crumbIssuer/api/json"
_TRANSIENT_STATUS = frozenset({502, 503, 504})
# A connection that drops mid-body is as transient as one that never opened.
_TRANSIENT_EXCEPTIONS = (requests.ConnectionError, requests.Timeout,
                         requests.exceptions.ChunkedEncodingError)
_ERROR_KINDS = ((JenkinsUnavailable, "unavailable"), (JenkinsAuthError, "auth"),
                (JenkinsNotFound, "not_found"), (JenkinsError, "request"))


class Transport:
    """One HTTP session to one Jenkins, with its credentials and crumb."""

    def __init__(self, *, url: str, user: str, token: str, password: str, timeout: float,
                 session: requests.Session | None):
        self.base = url.rstrip("/")
        self._timeout = timeout
        self._session = session if session is not None else requests.Session()
        self._owns_session = session is None
        self._auth = (user, token or password) if user else None
        self._secrets = tuple(secret for secret in (token, password) if secret)
        # Only API-token requests are exempt from CSRF; password and anonymous ones are not.
        self._use_crumb = not (user and token)
        self._crumb: dict[str, str] | None = None  # None: not fetched; {}: no crumb issuer
        self._crumb_lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session:
            self._session.close()

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                data: Any = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """Send one request (plus a crumb fetch when needed); raise ours for every failure."""
        began = time.perf_counter()
        try:
            response = self._request(method, path, params, data, headers)
        except JenkinsError as exc:
            kind = next(name for cls, name in _ERROR_KINDS if isinstance(exc, cls))
            record.jenkins_request(method, path, time.perf_counter() - began, kind)
            raise
        record.jenkins_request(method, path, time.perf_counter() - began)
        return response

    def _request(self, method: str, path: str, params: Mapping[str, str] | None, data: Any,
                 headers: Mapping[str, str] | None) -> requests.Response:
        response = self._send(method, path, params, data, headers)
        if (method == "POST" and self._use_crumb and response.status_code == 403
                and "crumb" in response.text.lower()):
            self._crumb = None  # the session expired (e.g. Jenkins restarted): refetch once
            response = self._send(method, path, params, data, headers)
        self._check(response, method, path)
        return response

    def _send(self, method: str, path: str, params: Mapping[str, str] | None, data: Any,
              headers: Mapping[str, str] | None) -> requests.Response:
        headers = dict(headers or {})
        if method == "POST" and self._use_crumb:
            headers.update(self._crumb_header())
        try:
            # POSTs answer with redirects to HTML pages (stop, doDelete, cancelItem): skip them.
            return self._session.request(method, self.base + path, params=params, data=data,
                                         headers=headers, auth=self._auth,
                                         timeout=self._timeout, allow_redirects=method != "POST")
        except requests.RequestException as exc:
            kind = (JenkinsUnavailable if isinstance(exc, _TRANSIENT_EXCEPTIONS)
                    else JenkinsRequestError)
            raise kind(f"request failed ({type(exc).__name__})", method=method,
                       path=path) from exc
        except UnicodeError as exc:  # e.g. a lone surrogate in a form value: never sent
            raise JenkinsRequestError(f"the request cannot be encoded ({exc.reason})",
                                      method=method, path=path) from exc

    def _crumb_header(self) -> dict[str, str]:
        with self._crumb_lock:
            if self._crumb is None:
                response = self._send("GET", CRUMB_PATH, None, None, None)
                if response.status_code == 404:  # CSRF protection is off
                    self._crumb = {}
                else:
                    self._check(response, "GET", CRUMB_PATH)
                    self._crumb = parse_json(_crumb, response, CRUMB_PATH)
            return self._crumb

    def _check(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 400:
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


def parse_json(parser: Callable[[Any], T], response: requests.Response, path: str) -> T:
    """Decode a JSON answer and build our object; a surprise becomes JenkinsRequestError."""
    try:
        return parser(json.loads(response.content))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise JenkinsRequestError(f"unexpected answer ({type(exc).__name__}: {exc})",
                                  method=response.request.method or "", path=path,
                                  status=response.status_code) from exc


def _crumb(doc: dict[str, Any]) -> dict[str, str]:
    return {str(doc["crumbRequestField"]): str(doc["crumb"])}
