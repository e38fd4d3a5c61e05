"""prometheus_client's multiprocess mode: one directory per start, shared by its processes.

Each process (gunicorn's workers, the engine) writes its own memory-mapped files there;
a scrape in any worker merges them all. ``serve`` calls `enable` before anything
records a metric and before it forks: the library picks its value class from
``PROMETHEUS_MULTIPROC_DIR`` when it is first imported, so the class is picked again
here. The directory is new for every start, so no count from an earlier run is merged
into this one; `process_exited` drops a dead worker's live gauges.

A start that was killed (SIGKILL, OOM) leaves its directory behind, and a Pod's ``/tmp``
volume outlives its container's restarts. Each directory therefore holds an ``owner``
file its service keeps locked (``flock``; the kernel drops the lock with the last
process of that service); a start removes the directories whose lock it can take.
"""

from __future__ import annotations

import fcntl
import inspect
import os
import shutil
import sys
import tempfile
from pathlib import Path

from prometheus_client import multiprocess, values

ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "sidecar-metrics-"
OWNER = "owner"
_owned: list = []  # this service's locked owner file: open for as long as the process lives


def enable(parent: str | None = None) -> Path:
    """Make a fresh directory, name it in the environment, and switch the value class."""
    if "sidecar.metrics.families" in sys.modules:
        raise RuntimeError("metrics were created before multiprocess mode was enabled")
    for earlier in Path(parent or tempfile.gettempdir()).glob(PREFIX + "*"):
        _remove_if_abandoned(earlier)
    directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent or None))
    owner = open(directory / OWNER, "w")  # noqa: SIM115 (held until the process ends)
    fcntl.flock(owner, fcntl.LOCK_EX)
    _owned.append(owner)
    os.environ[ENV] = str(directory)
    values.ValueClass = values.get_value_class()
    _guard_fork()
    return directory


def enabled() -> bool:
    """True when this process writes its metrics to the shared directory."""
    return bool(os.environ.get(ENV)) and getattr(values.ValueClass, "_multiprocess", False)


def process_exited(pid: int) -> None:
    """A worker died: its live gauges go (counters and histograms stay in the sums)."""
    if enabled():
        multiprocess.mark_process_dead(pid)


def remove(directory: Path) -> None:
    """Delete the directory at shutdown."""
    shutil.rmtree(directory, ignore_errors=True)


def _remove_if_abandoned(directory: Path) -> None:
    """Remove a directory whose service is gone; one in use, or not ours, stays."""
    try:
        with open(directory / OWNER) as owner:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # locked by a running service, no owner file, not readable
        return
    shutil.rmtree(directory, ignore_errors=True)


def _guard_fork() -> None:
    """Hold the library's one lock across fork().

    The engine thread records metrics in the process gunicorn forks workers from; a fork
    while it holds the lock would leave the child's copy locked forever.
    """
    lock = inspect.getclosurevars(values.ValueClass.inc).nonlocals.get("lock")
    if lock is not None and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=lock.acquire, after_in_parent=lock.release,
                            after_in_child=lock.release)
