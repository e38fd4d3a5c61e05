"""The engine's hands, fenced: no database write and no Jenkins call without the lead.

`FencedStore` proves leadership inside each transaction, just before it commits, so a
state change and the proof are one atomic step. `FencedJenkins` proves it just before
each call that changes something in Jenkins (job writes, triggers, stops, answers), so a
former leader that wakes from a pause neither queues a second build nor stops one.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy.orm import Session

from sidecar.engine.leader import Lease
from sidecar.jenkins import JenkinsClient
from sidecar.store import Store

JENKINS_WRITES = frozenset({"create_or_update_job", "delete_job", "trigger", "cancel_queue_item",
                            "proceed_input", "abort_input", "stop"})


class FencedStore:
    """A Store whose every transaction commits only while this engine leads."""

    def __init__(self, store: Store, lease: Lease):
        self._store, self._lease = store, lease

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)  # engine, dialect checks, dispose…

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, after the lease is proven in it."""
        with self._store.session() as session:
            yield session
            self._lease.fence(session)


class FencedJenkins:
    """A JenkinsClient whose changing calls first prove that this engine leads."""

    def __init__(self, jenkins: JenkinsClient, lease: Lease):
        self._jenkins, self._lease = jenkins, lease

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._jenkins, name)
        if name not in JENKINS_WRITES:
            return attribute

        def fenced(*args, **kwargs):
            self._lease.check()
            return attribute(*args, **kwargs)
        return fenced
