"""The other inputs of a render: trigger context, project settings and node history.

Each is a typed dataclass whose fields carry their YAML key, JSON Schema and meaning,
so loading, validation errors (with positions) and documentation come from one place.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sidecar.config.loader import Located
from sidecar.config.model import DEFAULT_PROTECTED_BRANCHES
from sidecar.config.schema import EVENTS, QUANTITY
from sidecar.config.validate import schema_problems
from sidecar.errors import ConfigError, Problem

T = TypeVar("T")


def _field(key: str, default: Any, schema: dict, doc: str) -> Any:
    return field(default=default, metadata={"key": key, "schema": schema, "doc": doc})


_STR = {"type": "string"}
_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9:._/-]{0,252}$",
       "x-expected": "an id of letters, digits and :._/-"}
# A leading '-' would make git read a ref as an option; git forbids such names anyway.
_NO_OPTION = {"type": "string", "pattern": "^(?!-)",
              "x-expected": "a git name not starting with '-'"}
_SECRET_NAME = "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
_QTY = {"type": ["string", "number"], "pattern": QUANTITY,
        "x-expected": "a Kubernetes quantity such as 500m, 2 or 1Gi"}


@dataclass(frozen=True)
class RenderContext:
    """What triggered this execution; decides `when`, CICD_* variables and the clone."""

    pipeline_id: str = _field("pipelineId", "local", _ID, "pipeline id (CICD_PIPELINE_ID)")
    execution_id: str = _field("executionId", "local-1", _ID, "execution id (CICD_EXECUTION_ID)")
    run: int = _field("run", 1, {"type": "integer", "minimum": 1},
                      "run number (CICD_EXECUTION_SEQUENCE)")
    branch: str = _field("branch", "main", _NO_OPTION, "branch (or tag) being built")
    event: str = _field("event", "manual", {"enum": EVENTS}, "what triggered the run")
    commit: str = _field("commit", "", _STR, "commit SHA to build; cloned exactly when set")
    ref: str = _field("ref", "", _NO_OPTION, "git ref fetched, e.g. refs/heads/main")
    git_url: str = _field("gitUrl", "", _STR, "repository URL; no clone without it")
    git_credential_id: str = _field("gitCredentialId", "", _STR,
                                    "Jenkins credential used to clone a private repository")
    trigger_type: str = _field("triggerType", "user", _STR, "user, webhook, image, cron or rerun")
    callback_url: str = _field("callbackUrl", "", {"type": "string", "pattern": "^(https?://.+)?$"},
                               "where the agent reports its node; empty: no report")
    project: str = _field("project", "default", _ID,
                          "project the pipeline belongs to (cache scope, quota)")
    jenkins_user: str = _field("jenkinsUser", "", _STR,
                               "the Jenkins user the sidecar acts as: the one submitter Jenkins "
                               "is told of, since the sidecar decides who may approve; empty: "
                               "the config's submitters")
    slot: int | None = _field("cacheSlot", None, {"type": ["integer", "null"], "minimum": 0},
                              "ignored: a pod claims its cache slot on its node "
                              "(kept so old inputs still load)")


@dataclass(frozen=True)
class ProjectSettings:
    """Per-project settings (DESIGN §6) that shape the pod."""

    executor_cpu_request: str = _field("executorCpuRequest", "100m", _QTY,
                                       "CPU request of each step container")
    executor_cpu_limit: str = _field("executorCpuLimit", "1", _QTY,
                                     "CPU limit of each step container")
    executor_memory_request: str = _field("executorMemoryRequest", "256Mi", _QTY,
                                          "memory request of each step container")
    executor_memory_limit: str = _field("executorMemoryLimit", "1Gi", _QTY,
                                        "memory limit of each step container")
    executor_quota: int = _field("executorQuota", 2, {"type": "integer", "minimum": 0},
                                 "executions of the project running at once; 0 = unlimited")
    cache_dir: str = _field("cacheDir", "/var/lib/jenkins-sidecar-cache",
                            {"type": "string", "pattern": "^/.+"},
                            "host directory under which caches live")
    affinity_scheme: str = _field("affinityScheme", "warm",
                                  {"enum": ["warm", "seed", "pin", "none"]},
                                  "warm: prefer every node with a usable warm cache equally; "
                                  "seed: weights 100-10i over the last 10 runs; "
                                  "pin: require the newest warm node; none")
    cache_saving: float = _field("cacheSaving", 0.35, {"type": "number", "minimum": 0,
                                                        "maximum": 1},
                                 "share of run time a warm cache saves (measured pip/npm)")
    warm_hold: float = _field("warmHold", 0.5, {"type": "number", "minimum": 0, "maximum": 1},
                              "hold a run for a warm node at most this fraction of the "
                              "expected saving; 0 = never hold")
    affinity_key: str = _field("affinityKey", "metadata.name",
                               {"enum": ["metadata.name", "kubernetes.io/hostname"]},
                               "match the node by name (exact) or by its hostname label")
    num_to_keep: int = _field("numToKeep", 1000, {"type": "integer", "minimum": 0},
                              "finished runs kept per pipeline whose config has no discarder "
                              "(in the sidecar and in Jenkins); 0 = keep all")
    days_to_keep: int = _field("daysToKeep", 0, {"type": "integer", "minimum": 0},
                               "days a finished run is kept when the config has no "
                               "discarder; 0 = no age limit")
    catalogs: dict = field(default_factory=dict, metadata={
        "key": "catalogs", "doc": "Rancher catalogs: catalog name -> Helm repository URL, "
                                  "for applyAppConfig's catalogTemplate",
        "schema": {"type": "object",
                   "propertyNames": {"pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                   "additionalProperties": {"type": "string", "pattern": "^(https?|oci)://.+"}}})
    script_splitting: bool = _field(
        "scriptSplitting", False, {"type": "boolean"},
        "the Jenkins controller runs declarative's SCRIPT_SPLITTING_TRANSFORMATION, so the "
        "JVM method limit applies per stage instead of to the whole pipeline block")
    scheduler_name: str = _field(
        "schedulerName", "",
        {"type": "string", "pattern": "^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)?$"},
        "scheduler (profile) that places agent pods; empty: the cluster's default. Above "
        "100 nodes, a profile with percentageOfNodesToScore 100 lets every warm node compete")
    service_account: str = _field("serviceAccount", "jenkins-agent",
                                  {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
                                  "service account of agent pods (never cluster-admin)")
    protected_branches: tuple[str, ...] = _field(
        "protectedBranches", DEFAULT_PROTECTED_BRANCHES,
        {"type": "array", "items": {"type": "string", "minLength": 1}},
        "branch globs whose push, manual, cron and image runs are trusted (Secrets, deploy "
        "steps, the trusted cache); a config's cache.protectedBranches can only narrow it")
    secrets: tuple[str, ...] = _field(
        "secrets", (), {"type": "array", "items": {"type": "string", "pattern": _SECRET_NAME}},
        "Kubernetes Secrets the project's configs may name (envFrom, credentialSecret); "
        "the sidecar's own Secrets never, even when listed")


@dataclass(frozen=True)
class HistoryEntry:
    """Where one earlier execution's pod ran."""

    execution_id: str = _field("executionId", "", _STR, "execution id")
    node_name: str | None = _field("nodeName", None, {"type": ["string", "null"]},
                                   "spec.nodeName of its agent pod; null if never scheduled")
    creation_timestamp: str = _field("creationTimestamp", "", _STR, "when it was created")


def from_located(cls: type[T], located: Located) -> T:
    """Build a settings-like dataclass from a YAML mapping; missing keys take defaults."""
    if located.data is None:
        return cls()
    problems = schema_problems(located, schema_of(cls)) + _non_finite(located)
    if problems:
        raise ConfigError(problems)
    by_key = {f.metadata["key"]: f.name for f in dataclasses.fields(cls)}
    return cls(**{by_key[key]: _as_text(value, by_key[key], cls)
                  for key, value in located.data.items()})


def history_from_located(located: Located) -> tuple[HistoryEntry, ...]:
    """Read a history file: a YAML list of entries, newest first."""
    if located.data is None:
        return ()
    schema = {"type": "array", "items": schema_of(HistoryEntry)}
    problems = schema_problems(located, schema)
    if problems:
        raise ConfigError(problems)
    by_key = {f.metadata["key"]: f.name for f in dataclasses.fields(HistoryEntry)}
    return tuple(HistoryEntry(**{by_key[k]: v for k, v in item.items()})
                 for item in located.data)


def schema_of(cls: type) -> dict:
    """JSON Schema of a settings-like dataclass, from its field metadata."""
    properties = {f.metadata["key"]: {**f.metadata["schema"], "description": f.metadata["doc"]}
                  for f in dataclasses.fields(cls)}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _non_finite(located: Located) -> list[Problem]:
    """NaN and infinities pass every JSON Schema bound (all comparisons are false)."""
    if not isinstance(located.data, dict):
        return []
    return [Problem(f"{key} must be a finite number", located.pos((key,)), key)
            for key, value in located.data.items()
            if isinstance(value, float) and not math.isfinite(value)]


def _as_text(value: Any, name: str, cls: type) -> Any:
    # Quantities may be written as YAML numbers (cpu: 2); the pod wants their text.
    declared = {f.name: f.type for f in dataclasses.fields(cls)}[name]
    if declared.startswith("tuple") and isinstance(value, list):
        return tuple(value)
    return str(value) if declared == "str" and isinstance(value, (int, float)) else value
