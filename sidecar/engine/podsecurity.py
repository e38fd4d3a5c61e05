"""May agent pods use hostPath? The agent namespace's Pod Security level decides.

Pod Security Admission's `baseline` and `restricted` levels reject any pod with a
hostPath volume, so rendering one there would only produce a pod that never starts.
The level is read from the namespace label ``pod-security.kubernetes.io/enforce`` (at
most once a minute); under baseline or restricted caches become emptyDir volumes and
the execution says why. Without the label the cluster default applies, which is
`privileged` unless the admission configuration says otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sidecar.kube import KubeError, PodLocator

log = logging.getLogger(__name__)

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
FORBIDS_HOST_PATH = ("baseline", "restricted")


@dataclass(frozen=True)
class Verdict:
    """Whether hostPath caches may be rendered, and the note shown when not."""

    host_path_allowed: bool
    note: str = ""


def verdict(namespace: str, labels: dict[str, str]) -> Verdict:
    """The verdict for a namespace with these labels."""
    level = labels.get(ENFORCE_LABEL, "")
    if level not in FORBIDS_HOST_PATH:
        return Verdict(True)
    return Verdict(False, f"namespace {namespace} enforces Pod Security {level!r}, which forbids "
                          f"hostPath volumes: caches are emptyDir (cold) for this run; label it "
                          f"{ENFORCE_LABEL}=privileged to keep node caches")


class PodSecurityGate:
    """Caches the namespace's verdict for `ttl` seconds; safe from several threads."""

    def __init__(self, pods: PodLocator, namespace: str, ttl: float = 60.0):
        self._pods, self._namespace, self._ttl = pods, namespace, ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, Verdict] | None = None

    def current(self) -> Verdict:
        """The verdict now; an unreadable namespace keeps hostPath (and is logged)."""
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self._ttl:
                return self._cached[1]
            try:
                found = verdict(self._namespace, self._pods.namespace_labels())
            except KubeError as exc:
                log.warning("cannot read Pod Security labels of %s: %s", self._namespace, exc)
                return Verdict(True)
            self._cached = (time.monotonic(), found)
            if not found.host_path_allowed:
                log.warning("%s", found.note)
            return found
