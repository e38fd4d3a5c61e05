"""May agent pods use hostPath? The agent namespace's Pod Security level decides.

Pod Security Admission's `baseline` and `restricted` levels reject any pod with a
hostPath volume, so rendering one there would only produce a pod that never starts.
The level is read from the namespace label ``pod-security.kubernetes.io/enforce`` (at
most once a minute); under baseline or restricted caches become emptyDir volumes and
the execution says why. Without the label the cluster default applies, which is
`privileged` unless the admission configuration says otherwise.

A pod the level rejects for another reason (a privileged step under baseline; under
restricted, containers that may run as root or keep capabilities, as CI images and the
shipped pod template do) would leave its run waiting for an agent that never comes
until the pipeline's timeout. `refusals` checks the rendered pod against the Pod
Security Standards' controls for the fields a pod template can carry, so such a run
fails at once and says why.
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
    level: str = ""
    """The enforced level: privileged (or none), baseline or restricted."""
    namespace: str = ""


OPEN = Verdict(True)
"""The verdict where nothing is known of Pod Security (no Kubernetes API)."""


def verdict(namespace: str, labels: dict[str, str]) -> Verdict:
    """The verdict for a namespace with these labels."""
    level = labels.get(ENFORCE_LABEL, "")
    if level not in FORBIDS_HOST_PATH:
        return Verdict(True, level=level, namespace=namespace)
    return Verdict(False, level=level, namespace=namespace,
                   note=f"namespace {namespace} enforces Pod Security {level!r}, which forbids "
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


# Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards):
# baseline's allowed added capabilities, restricted's volume types.
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                         "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                         "SYS_CHROOT"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}


def refusals(level: str, pod: dict) -> list[str]:
    """What the level's admission would refuse in the pod (empty: nothing it checks)."""
    if level not in FORBIDS_HOST_PATH:
        return []
    spec = pod.get("spec", {})
    containers = spec.get("initContainers", []) + spec.get("containers", [])
    found = [f"spec.{key} is true" for key in ("hostNetwork", "hostPID", "hostIPC")
             if spec.get(key)]
    found += [f"volume {v['name']} is a hostPath" for v in spec.get("volumes", [])
              if "hostPath" in v]
    for container in containers:
        context = container.get("securityContext") or {}
        added = set((context.get("capabilities") or {}).get("add") or ())
        if context.get("privileged"):
            found.append(f"container {container['name']} is privileged")
        allowed = {"NET_BIND_SERVICE"} if level == "restricted" else BASELINE_CAPABILITIES
        found += [f"container {container['name']} adds capability {name}"
                  for name in sorted(added - allowed)]
    if level == "restricted":
        found += _restricted(spec, containers)
    return found


def rejection(verdict: Verdict, pod: dict) -> str | None:
    """Why the namespace would reject the pod, fit for the execution's reason; None if not."""
    found = refusals(verdict.level, pod)
    if not found:
        return None
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    return (f"namespace {verdict.namespace} enforces Pod Security {verdict.level!r}, which "
            f"would reject the agent pod: {'; '.join(found[:3])}{more}; run agents in a "
            f"namespace labelled {ENFORCE_LABEL}=privileged (or baseline, without privileged "
            "steps)")


def _restricted(spec: dict, containers: list[dict]) -> list[str]:
    pod_context = spec.get("securityContext") or {}
    found = [f"volume {v['name']} is of a type restricted refuses" for v in spec.get("volumes", [])
             if not set(v) - {"name"} <= RESTRICTED_VOLUMES and "hostPath" not in v]
    for container in containers:
        name, context = container["name"], container.get("securityContext") or {}
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if non_root is not True:
            found.append(f"container {name} may run as root (runAsNonRoot is not true)")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            found.append(f"container {name} runs as uid 0")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name} allows privilege escalation")
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or ()):
            found.append(f"container {name} does not drop ALL capabilities")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {})
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"container {name} has no RuntimeDefault seccomp profile")
    return found
