"""Where a run's pod should go and what node-local data it mounts, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

StepKey = tuple[int, int]


@dataclass(frozen=True)
class CacheMount:
    """One hostPath cache directory mounted into one step's container."""

    volume: str
    host_path: str
    mount_path: str
    env: tuple[tuple[str, str], ...] = ()
    """Variables the tool needs to use this cache safely (e.g. Maven's file locks)."""
    slot_leaf: str = ""
    """For a cache not safe to share: host_path is the pipeline's slot directory and the
    step mounts ``slot-<k>/<slot_leaf>`` of the slot its pod claimed on the node."""


@dataclass(frozen=True)
class Placement:
    """Cache mounts per step (stage index, step index) and the pod's node affinity."""

    mounts: Mapping[StepKey, tuple[CacheMount, ...]] = field(default_factory=dict)
    affinity: dict[str, Any] | None = None
    host_path_allowed: bool = True
    """False when the namespace's Pod Security level forbids hostPath: caches become emptyDir."""
    note: str = ""
    """Why the caches are as they are, for the execution's placement_note."""
