"""A test client that calls as a page of the sidecar's own origin would."""

from __future__ import annotations

from flask.testing import FlaskClient


class SameOriginClient(FlaskClient):
    """Sends ``Origin: http://localhost`` with every request.

    Without a token file the sidecar takes state-changing requests only as JSON or from
    its own origin (no CSRF from other pages); the tests' bodyless writes are the latter.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ORIGIN"] = "http://localhost"
