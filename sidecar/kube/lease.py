"""Leader election on a `coordination.k8s.io/v1` Lease (``SIDECAR_LEADER_ELECTION=kubernetes``).

The rules are client-go's leaderelection: the holder writes ``holderIdentity``,
``leaseDurationSeconds`` and ``renewTime``; a candidate takes the Lease when it is
absent, released (no holder) or unchanged for ``leaseDurationSeconds`` *as measured by
the candidate's own monotonic clock* from when it first saw that version — never by
comparing the holder's ``renewTime`` with its own wall clock, so skew between replicas'
clocks does not matter. Every write carries the ``resourceVersion`` it read: of two
candidates writing at once, the API server accepts one and answers 409 to the other.

This decides who leads; the engine still fences every write through the database's lease
(`sidecar.engine.leader.KubeLease`), so a holder that lost the Lease while paused writes
nothing when it wakes.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sidecar.kube import KubeError, api_client, call

LOST_RACE = (404, 409)
"""Another candidate wrote (409) or deleted the Lease (404) between our read and write."""


@dataclass(frozen=True)
class _Seen:
    version: str
    at: float


class LeaseLock:
    """One candidate's view of a named Lease: acquire, renew, release."""

    def __init__(self, *, namespace: str, name: str, holder: str, ttl: float,
                 host: str | None = None, token: str | None = None, verify_ssl: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        from kubernetes import client
        self.namespace, self.name, self.holder = namespace, name, holder
        self.duration = max(1, math.ceil(ttl))
        self._api = client.CoordinationV1Api(api_client(host=host, token=token,
                                                        verify_ssl=verify_ssl))
        self._clock = clock
        self._seen: _Seen | None = None
        # The engine renews from its cycle loop and from a renewer thread: two writes at
        # the version both read would make one of them a lost race, and a spurious loss.
        self._one_at_a_time = threading.Lock()

    def acquire(self) -> bool:
        """Take the Lease if it is absent, ours, released or expired; True if we hold it."""
        with self._one_at_a_time:
            return self._acquire()

    def renew(self) -> bool:
        """Push renewTime ahead; False when the Lease is gone or names another holder."""
        with self._one_at_a_time:
            lease = self._read()
            if lease is None or lease.spec.holder_identity != self.holder:
                return False
            return self._write(lease, transitions=lease.spec.lease_transitions or 0,
                               acquired=lease.spec.acquire_time)

    def release(self) -> None:
        """Clear the holder (a clean stop), so the next candidate takes over at once."""
        with self._one_at_a_time:
            lease = self._read()
            if lease is not None and lease.spec.holder_identity == self.holder:
                self._write(lease, transitions=lease.spec.lease_transitions or 0,
                            acquired=lease.spec.acquire_time, holder="")

    def _acquire(self) -> bool:
        lease = self._read()
        if lease is None:
            return self._write(None, transitions=0, acquired=None)
        spec = lease.spec
        transitions = spec.lease_transitions or 0
        if spec.holder_identity == self.holder:
            return self._write(lease, transitions=transitions, acquired=spec.acquire_time)
        if spec.holder_identity and not self._expired(lease):
            return False
        return self._write(lease, transitions=transitions + 1, acquired=None)

    def _expired(self, lease: Any) -> bool:
        """Unchanged for its duration since we first saw this version (our clock)."""
        version = lease.metadata.resource_version
        if self._seen is None or self._seen.version != version:
            self._seen = _Seen(version, self._clock())
            return False
        duration = lease.spec.lease_duration_seconds or self.duration
        return self._clock() - self._seen.at >= duration

    def _read(self) -> Any | None:
        try:
            return call(self._api.read_namespaced_lease, self.name, self.namespace)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def _write(self, lease: Any | None, *, transitions: int, acquired: datetime | None,
               holder: str | None = None) -> bool:
        """Create or replace the Lease (at the version read); False when a race was lost."""
        now = datetime.now(timezone.utc)
        metadata = {"name": self.name, "namespace": self.namespace}
        if lease is not None:
            metadata["resourceVersion"] = lease.metadata.resource_version
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata,
                "spec": {"holderIdentity": self.holder if holder is None else holder,
                         "leaseDurationSeconds": self.duration,
                         "acquireTime": _micro_time(acquired or now),
                         "renewTime": _micro_time(now), "leaseTransitions": transitions}}
        try:
            if lease is None:
                call(self._api.create_namespaced_lease, self.namespace, body)
            else:
                call(self._api.replace_namespaced_lease, self.name, self.namespace, body)
        except KubeError as exc:
            if exc.status in LOST_RACE:
                return False
            raise
        return True


def _micro_time(moment: datetime) -> datetime:
    """A time the client library writes as metav1.MicroTime.

    The API server parses MicroTime with exactly six fractional digits, and the library
    writes ``isoformat()``, which leaves the fraction out when it is zero.
    """
    if moment.tzinfo is None:  # the library reads MicroTime as naive UTC at times
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=1) if moment.microsecond == 0 else moment
