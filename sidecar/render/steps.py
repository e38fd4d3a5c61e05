"""What each step runs and in which container: one `StepPlan` per config step.

A step's container spec is computed on its own (image, env, secrets, cache mounts,
resources); steps whose specs are identical share one container, so a pod has one
container per distinct step configuration — per image in the common case — while a
cache or secret is only ever mounted where the config asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.model import KANIKO_CACHE_DIR, Resources, Stage, Step, helm_key_path
from sidecar.config.quantity import parse_quantity
from sidecar.config.trust import UNTRUSTED_EVENTS, withheld  # noqa: F401
from sidecar.config.when import when_matches
from sidecar.render import catalog
from sidecar.render.placement import CacheMount, Placement, StepKey
from sidecar.render.variables import (POD_NAME_VARIABLE, cicd_env, cicd_variables, literal_env,
                                      pod_name_env, substitute)

# The service account token, mounted only into the containers of deploying steps (the
# pod itself does not automount it): what kubelet would project, but not everywhere.
API_ACCESS_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
API_ACCESS_VOLUME = {"name": "kube-api-access", "projected": {"defaultMode": 0o444, "sources": [
    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
        "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
]}}


@dataclass(frozen=True)
class StepPlan:
    """One step as the Jenkinsfile shows it."""

    key: StepKey
    name: str
    kind: str
    runs: bool
    timeout: int | None
    spec: dict[str, Any] | None = None        # container spec without its name
    volumes: tuple[dict, ...] = ()            # extra pod volumes (secrets), besides caches
    shell: str | None = None
    script: str | None = None
    checkout: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    withheld: str | None = None               # why an untrusted run does not run it
    container: str | None = field(default=None, compare=False)


def step_name(key: StepKey) -> str:
    """The Jenkins stage name of a step; sync maps it back to (stage, step)."""
    return f"step-{key[0]}-{key[1]}"


def step_runs(stage: Stage, step: Step, context: RenderContext) -> bool:
    """True when both the stage's and the step's `when` hold for this context."""
    return (when_matches(stage.when, branch=context.branch, event=context.event)
            and when_matches(step.when, branch=context.branch, event=context.event))


def plan_step(stage: Stage, key: StepKey, step: Step, *, context: RenderContext,
              settings: ProjectSettings, placement: Placement, tools: dict,
              trusted: bool) -> StepPlan:
    """Plan one step: whether it runs, its container spec and what it executes.

    In an untrusted run a step that needs what is withheld gets no container at all:
    it is skipped with the reason, never rendered half-armed.
    """
    runs = step_runs(stage, step, context)
    base = dict(key=key, name=step_name(key), kind=step.kind, runs=runs, timeout=step.timeout)
    reason = None if trusted else withheld(step)
    if reason:
        return StepPlan(**{**base, "runs": False}, withheld=reason)
    if step.kind == "approvalConfig":
        return StepPlan(**base, approval=dict(step.options))
    if step.kind == "sourceCodeConfig":
        return StepPlan(**base, checkout=_checkout(context), container="jnlp")
    if step.kind == "runScriptConfig":
        spec = _step_container(step, step.options["image"], ["cat"], cicd_env(context), key,
                               trusted=trusted, settings=settings, placement=placement)
        return StepPlan(**base, spec=spec, script=step.options["shellScript"])
    tool_name, tool_env, secrets = _TOOL_STEPS[step.kind](stage, step, context, settings)
    tool = tools[tool_name]
    spec = _step_container(step, tool["image"], tool.get("command", ["cat"]),
                           cicd_env(context) + [literal_env(k, v) for k, v in tool_env.items()],
                           key, trusted=trusted, settings=settings, placement=placement)
    if secrets:
        spec["volumeMounts"] = spec.get("volumeMounts", []) + [
            {"name": volume["name"], "mountPath": path, "readOnly": True}
            for volume, path in secrets]
    return StepPlan(**base, spec=spec, volumes=tuple(volume for volume, _ in secrets),
                    shell=tool.get("shell"), script=tool["script"])


def _step_container(step: Step, image: str, command: list[str], tool_env: list[dict],
                    key: StepKey, *, trusted: bool, settings: ProjectSettings,
                    placement: Placement) -> dict[str, Any]:
    own = _with_cache_env(step.env, placement.mounts.get(key, ()))
    env = tool_env + [{"name": k, "value": v} for k, v in own]
    if trusted:
        # Secrets never reach untrusted code (DESIGN §10); the step runs without them.
        env += [{"name": s.target_key,
                 "valueFrom": {"secretKeyRef": {"name": s.source_name, "key": s.source_key}}}
                for s in step.env_from]
    spec: dict[str, Any] = {"image": image, "command": list(command), "tty": True, "env": env,
                            "resources": resources(step.resources, settings)}
    mounts = [_volume_mount(m) for m in placement.mounts.get(key, ())]
    if mounts:
        spec["volumeMounts"] = mounts
    if any("subPathExpr" in m for m in mounts):
        env.append(pod_name_env())
    if step.privileged:
        spec["securityContext"] = {"privileged": True}
    if step.run_as_user is not None:
        spec.setdefault("securityContext", {})["runAsUser"] = step.run_as_user
    return spec


def _volume_mount(mount: CacheMount) -> dict[str, str]:
    """A cache mount; a slot cache goes through its pod's claim (pods/<pod> → slot-<k>)."""
    spec = {"name": mount.volume, "mountPath": mount.mount_path}
    if mount.slot_leaf:
        spec["subPathExpr"] = f"pods/$({POD_NAME_VARIABLE})/{mount.slot_leaf}"
    return spec


def _with_cache_env(env: tuple[tuple[str, str], ...],
                    mounts: tuple[CacheMount, ...]) -> list[tuple[str, str]]:
    """The step's env plus what its caches need; a step's own value keeps the cache's flags."""
    merged = dict(env)
    for mount in mounts:
        for name, value in mount.env:
            if value not in merged.get(name, ""):
                merged[name] = f"{value} {merged[name]}" if name in merged else value
    return list(merged.items())


def resources(own: Resources, settings: ProjectSettings) -> dict[str, dict[str, str]]:
    """Requests and limits: the step's own values over the project's executor settings."""
    cpu = _fit(own.cpu_request, own.cpu_limit,
               settings.executor_cpu_request, settings.executor_cpu_limit)
    memory = _fit(own.memory_request, own.memory_limit,
                  settings.executor_memory_request, settings.executor_memory_limit)
    return {"requests": {"cpu": cpu[0], "memory": memory[0]},
            "limits": {"cpu": cpu[1], "memory": memory[1]}}


def _fit(request: str | None, limit: str | None, default_request: str,
         default_limit: str) -> tuple[str, str]:
    """Request and limit, where a default never contradicts the step's own value.

    Kubernetes rejects a pod whose request exceeds its limit: a step asking for more
    than the default limit gets its request as limit, and a step limited below the
    default request gets its limit as request.
    """
    chosen_request, chosen_limit = request or default_request, limit or default_limit
    if parse_quantity(chosen_request) > parse_quantity(chosen_limit):
        if limit is None:
            chosen_limit = chosen_request
        elif request is None:
            chosen_request = chosen_limit
    return chosen_request, chosen_limit


def _checkout(context: RenderContext) -> dict[str, Any]:
    # Fetch the ref into a fixed local name and build the recorded commit when known,
    # so a push that lands during the run cannot change what is built.
    fetched = "refs/remotes/origin/sidecar-build"
    kind = "tags" if context.event == "tag" else "heads"
    ref = context.ref or f"refs/{kind}/{context.branch}"
    remote = {"url": context.git_url, "refspec": f"+{ref}:{fetched}"}
    if context.git_credential_id:
        remote["credentialsId"] = context.git_credential_id
    return {"branch": context.commit or fetched, "remote": remote}


# A tool step's parameters: tool name, environment, and (secret volume, mount path) pairs.
ToolCall = tuple[str, dict[str, str], list[tuple[dict, str]]]


def _kaniko(stage: Stage, step: Step, context: RenderContext, settings) -> ToolCall:
    options = step.options
    tag = substitute(options["tag"], cicd_variables(context))
    registry = options["registry"].rstrip("/")
    env = {
        "PLUGIN_DOCKERFILE": options["dockerfilePath"],
        "PLUGIN_CONTEXT": options["buildContext"],
        "PLUGIN_DESTINATION": f"{registry}/{tag}" if registry else tag,
        "PLUGIN_PUSH": "true" if options["pushRemote"] else "false",
    }
    if KANIKO_CACHE_DIR in stage.cache_paths(step):
        env["PLUGIN_CACHE_DIR"] = KANIKO_CACHE_DIR
    build_args = options.get("buildArgs", {})
    if build_args:
        env["PLUGIN_BUILD_ARGS"] = " ".join(build_args)
        env.update({f"PLUGIN_BUILD_ARG_{k}": _text(v) for k, v in build_args.items()})
    secrets = []
    if options.get("credentialSecret"):  # only trusted runs get here (`withheld`)
        name = options["credentialSecret"]
        secrets.append(({"name": f"docker-config-{name}"[:63], "secret": {
            "secretName": name, "items": [{"key": ".dockerconfigjson", "path": "config.json"}]}},
            "/kaniko/.docker"))
    return "kaniko", env, secrets


def _kubectl(stage: Stage, step: Step, context: RenderContext, settings) -> ToolCall:
    options, variables = step.options, cicd_variables(context)
    env = {"APPLY_NAMESPACE": options["namespace"]}
    if "content" in options:
        env["APPLY_CONTENT"] = substitute(options["content"], variables)
    else:
        env["APPLY_PATH"] = substitute(options["path"], variables)
    return "kubectl", env, [(API_ACCESS_VOLUME, API_ACCESS_PATH)]


def _helm(stage: Stage, step: Step, context: RenderContext, settings) -> ToolCall:
    options, variables = step.options, cicd_variables(context)
    values = options["values"]
    chart, repo = catalog.app_source(stage, step, settings)
    return "helm", {
        "HELM_RELEASE": substitute(options["releaseName"], variables),
        "HELM_CHART": substitute(chart, variables),
        "HELM_NAMESPACE": substitute(options["namespace"], variables),
        "HELM_CHART_VERSION": substitute(options["version"], variables),
        "HELM_REPO": repo,
        "HELM_VALUES_FILES": "\n".join([values] if isinstance(values, str) else values),
        "HELM_SET_VALUES": _helm_overrides(
            catalog.answers(step, variables) or options["set"], variables),
        "HELM_WAIT": "true" if options["wait"] else "false",
        "HELM_ROLLBACK_ON_FAILURE": "true" if options["rollbackOnFailure"] else "false",
    }, [(API_ACCESS_VOLUME, API_ACCESS_PATH)]


_TOOL_STEPS = {"publishImageConfig": _kaniko, "applyYamlConfig": _kubectl,
               "applyAppConfig": _helm, "publishCatalogConfig": catalog.publish}


def _helm_overrides(values: dict, variables: dict[str, str]) -> str:
    """`set: {image.tag: v1}` as a values document, so no value is parsed by --set."""
    tree: dict[str, Any] = {}
    for dotted, value in values.items():
        *parents, leaf = helm_key_path(dotted)
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = substitute(value, variables) if isinstance(value, str) else value
    return yaml.safe_dump(tree, sort_keys=False) if tree else "{}\n"


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
