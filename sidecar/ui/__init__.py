"""The web UI under /ui/: pipelines, runs, the stage graph, live logs, approvals, validation.

Pages are rendered on the server with Flask's own (HTML-autoescaping) Jinja2 environment
and need no JavaScript to be read; one small script, served from ``static/`` with no
build step, follows a running run and its log. The views are thin: they read through
``sidecar.readmodel`` and ``sidecar.ui.views`` and act through ``sidecar.services``, as
the API does, with the same tokens and the same per-project access.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from flask import Flask

from sidecar.settings import ServiceSettings, env_name
from sidecar.ui import approvals, pages, signin, validate  # noqa: F401 (they add the routes)
from sidecar.ui.base import bp

log = logging.getLogger(__name__)
SESSION_LIFETIME = timedelta(hours=12)


def init_app(app: Flask, settings: ServiceSettings) -> None:
    """Serve the UI on app: its routes, and the session cookie's key and attributes."""
    if not settings.secret_key and settings.api_tokens_file:
        log.warning("%s is not set: web UI sign-ins hold only in this process and end with "
                    "it", env_name("secret_key"))
    # Without a key (loopback only, see settings) a random one: valid in this process alone.
    app.secret_key = settings.secret_key or secrets.token_hex(32)
    app.config.update(
        SESSION_COOKIE_NAME="sidecar_ui", SESSION_COOKIE_PATH="/ui", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,  # also how long a signed cookie is valid
        WTF_CSRF_TIME_LIMIT=None)  # a form token lives as long as its session
    app.register_blueprint(bp)
