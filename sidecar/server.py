"""Run the app under gunicorn in-process: one worker (the sync loop lives once), threads."""

from __future__ import annotations

from flask import Flask
from gunicorn.app.base import BaseApplication

from sidecar.logs import gunicorn_logconfig


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict):
        self._app, self._options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def run_gunicorn(app: Flask, *, bind: str, threads: int, log_level: str = "INFO",
                 log_format: str = "text", after_fork=None, child_exit=None) -> None:
    """Serve app until stopped; every log line (gunicorn's too) through sidecar.logs.

    child_exit(pid) runs in the master when a worker has exited.
    """
    # No gunicorn access log: the app writes one line per request with its request id.
    options = {"bind": bind, "workers": 1, "worker_class": "gthread", "threads": threads,
               "logconfig_dict": gunicorn_logconfig(log_level, log_format)}
    if after_fork is not None:
        options["post_fork"] = lambda _server, _worker: after_fork()
    if child_exit is not None:
        options["child_exit"] = lambda _server, worker: child_exit(worker.pid)
    _Gunicorn(app, options).run()
