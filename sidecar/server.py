"""The processes of one replica (DESIGN §11).

`serve` is a small supervisor: it checks the settings, migrates the database (under the
start-up lock), then starts two children with fork and exec, so nothing of its own
crosses into them:

- the API (`jenkins-sidecar api`): a gunicorn master and SIDECAR_WORKERS worker
  processes; each worker builds the app, its database pool and HTTP sessions after the
  fork (no ``preload_app``);
- the engine (`jenkins-sidecar engine`): stands by or leads (`sidecar.engine.process`).

An engine that exits is started again after a short pause; when the API exits, or
`serve` gets SIGTERM or SIGINT, every child is stopped and `serve` exits. The children
get SIGTERM if `serve` itself dies (Linux), so no orphan keeps leading.
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from sidecar.logs import gunicorn_logconfig
from sidecar.metrics import multiprocess
from sidecar.settings import ServiceSettings, env_name

log = logging.getLogger("sidecar.server")
RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0)
"""Seconds before an engine that exited is started again (a crash loop slows down)."""
STEADY = 60.0
"""An engine that ran this long before it exited is restarted after the first pause."""
STOP_GRACE = 20.0
PR_SET_PDEATHSIG = 1


class _NoAccessLine(Logger):
    """gunicorn's logger without its access line, which it would build for every
    request only to drop it (its access logger has no handler: the app writes that line)."""

    def access(self, resp, req, environ, request_time) -> None:
        """Nothing: see the class."""


class _Gunicorn(BaseApplication):
    def __init__(self, factory, options: dict):
        self._factory, self._options = factory, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()  # in each worker, after the fork


def run_api(factory, settings: ServiceSettings, *, threads: int) -> None:
    """Serve the app that factory builds in every worker until stopped."""
    # No gunicorn access log: the app writes one line per request with its request id.
    options = {"bind": settings.bind, "workers": settings.worker_count(),
               "worker_class": "gthread", "threads": threads, "preload_app": False,
               # gunicornc's socket sits at one path per user: replicas on one host would
               # share it, and the root file system is read-only in the deploy.
               "control_socket_disable": True,
               "logconfig_dict": gunicorn_logconfig(settings.log_level, settings.log_format),
               "logger_class": _NoAccessLine,
               # A dead worker's live gauges leave the merged /metrics page.
               "child_exit": lambda _server, worker: multiprocess.process_exited(worker.pid)}
    _Gunicorn(factory, options).run()


def child_environment(settings: ServiceSettings) -> dict[str, str]:
    """The children's environment: one UI key and one replica name for all of them."""
    environ = dict(os.environ)
    environ[env_name("bind")] = settings.bind
    if not settings.secret_key:  # loopback only (settings): one random key per replica
        environ[env_name("secret_key")] = secrets.token_urlsafe(48)
    if not settings.instance_id:
        environ[env_name("instance_id")] = f"{socket.gethostname()}-{os.getpid()}"
    return environ


def supervise(settings: ServiceSettings, *, threads: int) -> int:
    """Run the API and the engine as children until the API exits or a stop signal comes."""
    environ = child_environment(settings)
    command = [sys.executable, "-m", "sidecar.cli"]
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    signal.signal(signal.SIGCHLD, lambda _number, _frame: None)  # wakes the select below
    api = _spawn([*command, "api", "--threads", str(threads)], environ)
    engine = EngineChild(command, environ) if settings.jenkins_url else None
    if engine is None:
        log.warning("no Jenkins configured (%s): executions will wait", env_name("jenkins_url"))
    log.info("replica %s: API pid %d with %d workers%s", environ[env_name("instance_id")],
             api.pid, settings.worker_count(),
             f", engine pid {engine.process.pid}" if engine else "")
    status = 0
    while not stopping:
        woken, _, _ = select.select([wake_read], [], [], engine.wait_for() if engine else None)
        if woken:
            os.read(wake_read, 512)  # the signal numbers; what happened is checked below
        if api.poll() is not None:
            log.error("the API process exited with status %d; stopping", api.returncode)
            status = api.returncode if api.returncode > 0 else 1  # killed by a signal: 1
            break
        if engine is not None:
            engine.check()
    _stop([api] + ([engine.process] if engine and engine.process else []))
    return status


class EngineChild:
    """The engine child, restarted after a pause whenever it exits."""

    def __init__(self, command: list[str], environ: dict[str, str]):
        self._command, self._environ = [*command, "engine"], environ
        self.process: subprocess.Popen | None = None
        self._started, self._failures, self._restart_at = 0.0, 0, None
        self._start()

    def _start(self) -> None:
        self.process, self._started, self._restart_at = \
            _spawn(self._command, self._environ), time.monotonic(), None

    def wait_for(self) -> float | None:
        """Seconds until a pending restart is due (None: nothing pending)."""
        if self._restart_at is None:
            return None
        return max(0.0, self._restart_at - time.monotonic())

    def check(self) -> None:
        """Notice an exit and schedule a restart; start it again when the pause is over."""
        if self._restart_at is not None:
            if time.monotonic() >= self._restart_at:
                self._start()
            return
        if self.process.poll() is None:
            return
        multiprocess.process_exited(self.process.pid)  # its leader gauge is no more
        ran = time.monotonic() - self._started
        self._failures = 0 if ran >= STEADY else self._failures + 1
        pause = RESTART_PAUSES[min(self._failures, len(RESTART_PAUSES) - 1)]
        log.warning("the engine process exited with status %d after %.0f s; starting it "
                    "again in %g s", self.process.returncode, ran, pause)
        self._restart_at = time.monotonic() + pause


def _spawn(command: list[str], environ: dict[str, str]) -> subprocess.Popen:
    # fork and exec at once: the child starts clean, with nothing of this process but
    # its environment; it gets SIGTERM should this process die.
    return subprocess.Popen(command, env=environ, preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: a supervisor is expected to stop them
        pass


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM every child, wait for them, SIGKILL what is still there after the grace."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("pid %d did not stop in %g s: killing it", process.pid, STOP_GRACE)
            process.kill()
            process.wait()
