"""Assemble the one self-contained agent pod of a run and emit it as YAML."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from urllib.parse import quote
from typing import Any

import yaml

from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.model import Pipeline
from sidecar.render.naming import label_value
from sidecar.render.placement import Placement
from sidecar.render.slotclaim import (REPORT_DIR, REPORT_VOLUME, claim_containers,
                                      slot_volumes)
from sidecar.render.steps import StepPlan, resources
from sidecar.render.variables import literal_env, node_name_env, pod_name_env

LABEL_PREFIX = "sidecar.jenkins.io"
CACHE_OWNER_ROOT = "/sidecar-cache"


def assign_containers(plans: list[StepPlan]) -> tuple[list[StepPlan], list[dict]]:
    """Give each running step a container; identical specs share the first one's name."""
    by_spec: dict[str, str] = {}
    containers: list[dict] = []
    assigned = []
    for plan in plans:
        if plan.spec is None:
            assigned.append(plan)
            continue
        key = json.dumps(plan.spec, sort_keys=True)
        if key not in by_spec and plan.runs:
            by_spec[key] = plan.name
            containers.append({"name": plan.name, **plan.spec})
        # A skipped step still names a container in the Jenkinsfile; it never runs there.
        assigned.append(replace(plan, container=by_spec.get(key, plan.name)))
    return assigned, containers


def build_pod(base: dict, pipeline: Pipeline, plans: list[StepPlan], containers: list[dict], *,
              context: RenderContext, settings: ProjectSettings, placement: Placement,
              tools: dict | None = None) -> dict:
    """The agent pod: base template plus labels, containers, services, volumes, affinity."""
    pod = copy.deepcopy(base)
    metadata = pod.setdefault("metadata", {})
    metadata.setdefault("labels", {}).update({
        f"{LABEL_PREFIX}/project": label_value(context.project),
        f"{LABEL_PREFIX}/pipeline": label_value(context.pipeline_id),
        f"{LABEL_PREFIX}/execution": label_value(context.execution_id),
    })
    # Labels must be short and plain; the annotations keep the exact ids.
    metadata.setdefault("annotations", {}).update({
        f"{LABEL_PREFIX}/pipeline-id": context.pipeline_id,
        f"{LABEL_PREFIX}/execution-id": context.execution_id,
    })
    if placement.note:
        metadata["annotations"][f"{LABEL_PREFIX}/cache-note"] = placement.note
    spec = pod.setdefault("spec", {})
    spec["serviceAccountName"] = settings.service_account
    if settings.scheduler_name:
        spec["schedulerName"] = settings.scheduler_name
    running = [plan for plan in plans if plan.runs]
    spec["containers"] = spec.get("containers", []) + containers + [
        _service(service, settings) for service in pipeline.services]
    volumes = _volumes(running, containers, placement)
    if volumes:
        spec["volumes"] = spec.get("volumes", []) + volumes
    # Slots are claimed on the node, first: cache-owner then hands the claimed slot over.
    slots = slot_volumes(containers) if placement.host_path_allowed else {}
    claims = claim_containers(slots, (tools or {}).get("cache-slot"))
    if claims:
        spec["volumes"] = spec.get("volumes", []) + [{"name": REPORT_VOLUME, "emptyDir": {}}]
    owners = cache_owner_containers(containers, volumes, (tools or {}).get("cache-owner"))
    if claims or owners:
        spec["initContainers"] = spec.get("initContainers", []) + claims + owners
    if placement.affinity:
        spec["affinity"] = copy.deepcopy(placement.affinity)
    if context.callback_url:
        _add_node_report(spec, context, bool(claims))
    _harden(spec)
    return pod


def _harden(spec: dict) -> None:
    """Whatever the base template says: no automounted token, the runtime's seccomp
    profile, and no privilege escalation in any container that is not privileged."""
    spec["automountServiceAccountToken"] = False
    spec["securityContext"] = {**spec.get("securityContext", {}),
                               "seccompProfile": {"type": "RuntimeDefault"}}
    for container in spec.get("initContainers", []) + spec["containers"]:
        context = container.get("securityContext", {})
        if not context.get("privileged"):
            container["securityContext"] = {**context, "allowPrivilegeEscalation": False}


def _add_node_report(spec: dict, context: RenderContext, slot: bool) -> None:
    """What the jnlp container needs to report the pod's node (and claimed slot)."""
    url = f"{context.callback_url.rstrip('/')}/api/v1/callbacks/executions/" \
          f"{quote(context.execution_id, safe='')}/node"
    for container in spec["containers"]:
        if container["name"] == "jnlp":
            container.setdefault("env", []).extend([
                literal_env("SIDECAR_CALLBACK_URL", url), node_name_env()])
            if slot:
                container.setdefault("volumeMounts", []).append(
                    {"name": REPORT_VOLUME, "mountPath": REPORT_DIR, "readOnly": True})


def _service(service, settings: ProjectSettings) -> dict[str, Any]:
    container: dict[str, Any] = {"name": service.name, "image": service.image}
    if service.command:
        container["command"] = list(service.command)
    if service.args:
        container["args"] = list(service.args)
    if service.env:
        container["env"] = [{"name": k, "value": v} for k, v in service.env]
    container["resources"] = resources(service.resources, settings)
    return container


def cache_owner_containers(containers: list[dict], volumes: list[dict],
                           tool: dict | None) -> list[dict]:
    """Init containers that hand each non-root step's hostPath caches to its uid.

    One per uid, mounting the same hostPath volumes under /sidecar-cache/<volume>.
    """
    if tool is None:
        return []
    host_paths = {v["name"] for v in volumes if "hostPath" in v}
    by_uid: dict[int, list[tuple[str, str]]] = {}
    for container in containers:
        uid = container.get("securityContext", {}).get("runAsUser")
        if not uid:  # root (or unset) owns what kubelet created
            continue
        mounts = by_uid.setdefault(uid, [])
        # A slot cache: only the leaf in the claimed slot (kubelet expands $(…) in args).
        for m in container.get("volumeMounts", []):
            mount = (m["name"], m.get("subPathExpr", ""))
            if m["name"] in host_paths and mount not in mounts:
                mounts.append(mount)
    return [_cache_owner(uid, mounts, tool) for uid, mounts in sorted(by_uid.items()) if mounts]


def _cache_owner(uid: int, mounts: list[tuple[str, str]], tool: dict) -> dict:
    names = list(dict.fromkeys(name for name, _ in mounts))
    paths = ["/".join(filter(None, (f"{CACHE_OWNER_ROOT}/{name}", sub))) for name, sub in mounts]
    owner = {
        "name": f"cache-owner-{uid}", "image": tool["image"],
        "command": ["sh", "-c", tool["script"], "cache-owner", str(uid), *paths],
        "securityContext": {"runAsUser": 0, "runAsNonRoot": False,
                            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"],
                                             "add": ["CHOWN", "DAC_READ_SEARCH"]}},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                      "limits": {"cpu": "100m", "memory": "32Mi"}},
        "volumeMounts": [{"name": name, "mountPath": f"{CACHE_OWNER_ROOT}/{name}"}
                         for name in names],
    }
    if any(sub for _, sub in mounts):
        owner["env"] = [pod_name_env()]
    return owner


def _volumes(running: list[StepPlan], containers: list[dict], placement: Placement) -> list[dict]:
    """Volumes mounted by the pod's containers, each once, in first-use order."""
    mounted = {m["name"] for c in containers for m in c.get("volumeMounts", [])}
    volumes: dict[str, dict] = {}
    for plan in running:
        for mount in placement.mounts.get(plan.key, ()):
            if mount.volume in mounted:
                # Pod Security baseline/restricted forbid hostPath: a cold per-pod cache.
                source = {"hostPath": {"path": mount.host_path, "type": "DirectoryOrCreate"}} \
                    if placement.host_path_allowed else {"emptyDir": {}}
                volumes.setdefault(mount.volume, {"name": mount.volume, **source})
        for volume in plan.volumes:
            if volume["name"] in mounted:
                volumes.setdefault(volume["name"], copy.deepcopy(volume))
    return list(volumes.values())


class _PodDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml's when present
    """Block style for multi-line strings, so scripts and manifests stay readable."""


# PyYAML writes these raw inside plain or quoted scalars, where YAML 1.1 reads them back
# as line breaks; double quotes make it escape them (\N, \L, \P).
_UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if any(char in value for char in _UNICODE_BREAKS):
        style = '"'
    else:
        style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_PodDumper.add_representer(str, _represent_str)


def pod_yaml(pod: dict) -> str:
    """Emit the pod with a YAML emitter (never by pasting strings)."""
    return yaml.dump(pod, Dumper=_PodDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100000)
