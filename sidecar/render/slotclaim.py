"""The slot claim of a pod whose caches are not safe to share.

Which slot a run uses cannot be known when its pod is rendered: the node is not known
yet, and slots are exclusive per node. So the pod claims one itself. The `cache-slot`
container (podtemplates/tools.yaml) is a native sidecar — an init container with
``restartPolicy: Always`` (Kubernetes 1.29+) — that runs before the steps: it takes an
``flock`` on the warmest free ``slot-<k>.lock`` under the pipeline's scope directory,
holds it for the pod's lifetime (the kernel drops it when the pod ends or the process
is killed), links ``pods/<pod name>`` to ``slot-<k>`` and writes ``k`` to a file in a
shared emptyDir. Its startup probe holds the steps back until that file exists. Steps
mount ``pods/$(SIDECAR_POD_NAME)/<path>`` by subPathExpr, which kubelet resolves
once, at container start, to the claimed slot; the node report sends ``k`` to the
sidecar, which records it as the execution's cache slot.
"""

from __future__ import annotations

from sidecar.render.variables import literal_env, pod_name_env

SLOTS_ROOT = "/sidecar-slots"
REPORT_VOLUME = "cache-slot-report"
REPORT_DIR = "/sidecar-slot"
SLOT_FILE = f"{REPORT_DIR}/slot"


def slot_volumes(containers: list[dict]) -> dict[str, list[str]]:
    """Slot volume → the leaf directories its steps mount, in first-use order."""
    found: dict[str, list[str]] = {}
    for container in containers:
        for mount in container.get("volumeMounts", []):
            expr = mount.get("subPathExpr", "")
            if expr.startswith("pods/"):
                leaves = found.setdefault(mount["name"], [])
                leaf = expr.rsplit("/", 1)[1]
                if leaf not in leaves:
                    leaves.append(leaf)
    return found


def claim_containers(slots: dict[str, list[str]], tool: dict | None) -> list[dict]:
    """One claim container per slot volume (a run has one trust scope, so at most one)."""
    if tool is None:
        return []
    return [_claim(f"cache-slot-{i}" if i else "cache-slot", volume, leaves, tool)
            for i, (volume, leaves) in enumerate(slots.items())]


def _claim(name: str, volume: str, leaves: list[str], tool: dict) -> dict:
    return {
        "name": name, "image": tool["image"], "restartPolicy": "Always",
        "command": ["sh", "-c", tool["script"], name],
        "env": [literal_env("SLOTS_DIR", f"{SLOTS_ROOT}/{volume}"),
                literal_env("SLOT_FILE", SLOT_FILE), literal_env("LEAVES", " ".join(leaves)),
                {**pod_name_env(), "name": "POD_NAME"}],
        # Root, but only DAC_OVERRIDE: a slot may belong to a non-root step's uid
        # (cache-owner hands it over) and a new leaf is created inside it.
        "securityContext": {"runAsUser": 0, "runAsNonRoot": False,
                            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"], "add": ["DAC_OVERRIDE"]}},
        "startupProbe": {"exec": {"command": ["test", "-s", SLOT_FILE]},
                         "periodSeconds": 1, "failureThreshold": 120},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                      "limits": {"cpu": "100m", "memory": "32Mi"}},
        "volumeMounts": [{"name": volume, "mountPath": f"{SLOTS_ROOT}/{volume}"},
                         {"name": REPORT_VOLUME, "mountPath": REPORT_DIR}],
    }
