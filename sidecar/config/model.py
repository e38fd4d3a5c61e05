"""The validated pipeline config as immutable dataclasses.

Only ``validate.py`` builds these, after the raw YAML has passed the schema and the
semantic checks, so the renderer can rely on every field being present and sane.
Step-type options stay a plain mapping (already schema-checked, defaults applied):
each step type reads only its own few keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

# kaniko keeps base image layers here (--cache-dir); cached when a publish step caches.
KANIKO_CACHE_DIR = "/cache"
# Branches whose runs are trusted when the project's settings name none.
DEFAULT_PROTECTED_BRANCHES = ("main", "master")


def helm_key_path(key: str) -> tuple[str, ...]:
    """A helm `--set` key as its path of names: dots separate, ``\\.`` is a literal dot."""
    return tuple(part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", key))


@dataclass(frozen=True)
class Constraint:
    """Include/exclude lists of globs (branches) or names (events)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class When:
    """Condition decided at render time from the trigger context; None means any."""

    branch: Constraint | None = None
    event: Constraint | None = None


@dataclass(frozen=True)
class Cache:
    """Paths to keep on the node between runs."""

    enabled: bool = True
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretEnv:
    """One key of a Kubernetes Secret exposed as an environment variable."""

    source_name: str
    source_key: str
    target_key: str


@dataclass(frozen=True)
class Resources:
    """Container requests and limits; None keeps the project setting."""

    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None


@dataclass(frozen=True)
class Parameter:
    """A build parameter (pipeline) or an input parameter (approval)."""

    name: str
    type: str = "string"
    default: str | bool = ""
    description: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One step: exactly one step type plus the fields every step may have."""

    kind: str
    options: Mapping[str, Any]
    env: tuple[tuple[str, str], ...] = ()
    env_from: tuple[SecretEnv, ...] = ()
    cache: Cache | None = None
    when: When | None = None
    timeout: int | None = None
    privileged: bool = False
    resources: Resources = field(default_factory=Resources)
    run_as_user: int | None = None


@dataclass(frozen=True)
class Stage:
    """Stages run one after another; their steps run in parallel."""

    name: str
    steps: tuple[Step, ...]
    when: When | None = None
    cache: Cache | None = None

    @property
    def is_approval(self) -> bool:
        """True for a stage that only waits for a human decision."""
        return self.steps[0].kind == "approvalConfig"

    def cache_paths(self, step: Step) -> tuple[str, ...]:
        """Paths cached for step: its own cache setting, else the stage's."""
        cache = step.cache if step.cache is not None else self.cache
        if cache is None or not cache.enabled:
            return ()
        if step.kind == "publishImageConfig" and KANIKO_CACHE_DIR not in cache.paths:
            return (KANIKO_CACHE_DIR, *cache.paths)
        return cache.paths


@dataclass(frozen=True)
class Service:
    """A helper container (database, cache) alive for the whole run."""

    name: str
    image: str
    env: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class Notification:
    """Who hears about which end states."""

    recipients: tuple[tuple[str, str], ...] = ()
    message: str = ""
    condition: tuple[str, ...] = ()


@dataclass(frozen=True)
class Discarder:
    """How many builds Jenkins keeps."""

    days_to_keep: int | None = None
    num_to_keep: int | None = None


@dataclass(frozen=True)
class Pipeline:
    """A whole pipeline config."""

    stages: tuple[Stage, ...]
    services: tuple[Service, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    timeout: int = 60
    branch: Constraint | None = None
    notification: Notification | None = None
    discarder: Discarder | None = None
    protected_branches: tuple[str, ...] | None = None
    """The config's own protected branch globs: they only narrow the project's list."""

    @property
    def has_source(self) -> bool:
        """True when the pipeline clones its repository."""
        return any(step.kind == "sourceCodeConfig" for stage in self.stages for step in stage.steps)
