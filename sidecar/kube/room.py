"""Free room on nodes: allocatable CPU and memory less what their live pods request.

Pure arithmetic over plain data, so it is tested without an API server; `PodLocator`
feeds it what the Kubernetes API answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from sidecar.render.requests import Requests, quantity_requests


@dataclass(frozen=True)
class Room:
    """CPU (millicores) and memory (bytes) a node can still grant; negative if overcommitted."""

    cpu_millis_free: int
    memory_bytes_free: int

    def fits(self, wanted: Requests) -> bool:
        """Whether a pod asking for `wanted` fits into this room."""
        return (self.cpu_millis_free >= wanted.cpu_millis
                and self.memory_bytes_free >= wanted.memory_bytes)


def pod_total(containers: Iterable[Mapping[str, str] | None],
              init_containers: Iterable[Mapping[str, str] | None] = ()) -> Requests:
    """A pod's effective requests: its containers' sum, or its largest init container."""
    running = [_requests(r) for r in containers]
    init = [_requests(r) for r in init_containers]
    cpu = max([sum(r.cpu_millis for r in running)] + [r.cpu_millis for r in init])
    memory = max([sum(r.memory_bytes for r in running)] + [r.memory_bytes for r in init])
    return Requests(cpu, memory)


def free_room(allocatable: Mapping[str, Mapping[str, str]],
              pods: Iterable[tuple[str, Requests]]) -> dict[str, Room]:
    """Room per node: its allocatable cpu/memory less the requests of the pods on it."""
    used = {node: [0, 0] for node in allocatable}
    for node, asked in pods:
        if node in used:
            used[node][0] += asked.cpu_millis
            used[node][1] += asked.memory_bytes
    rooms = {}
    for node, capacity in allocatable.items():
        total = _requests(capacity)
        rooms[node] = Room(total.cpu_millis - used[node][0], total.memory_bytes - used[node][1])
    return rooms


def _requests(values: Mapping[str, str] | None) -> Requests:
    values = values or {}
    return quantity_requests(values.get("cpu"), values.get("memory"))
