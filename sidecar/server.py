"""Run the app under gunicorn in-process: one worker (the sync loop lives once), threads."""

from __future__ import annotations

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict):
        self._app, self._options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def run_gunicorn(app: Flask, *, bind: str, threads: int, after_fork=None) -> None:
    """Serve app until stopped; access log to stdout, errors to stderr."""
    options = {"bind": bind, "workers": 1, "worker_class": "gthread", "threads": threads,
               "accesslog": "-", "errorlog": "-",
               # The path without its query: Docker Hub hooks carry their secret in ?token=.
               "access_log_format": '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s '
                                    '"%(f)s" "%(a)s"'}
    if after_fork is not None:
        options["post_fork"] = lambda _server, _worker: after_fork()
    _Gunicorn(app, options).run()
