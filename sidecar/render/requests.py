"""What a run's agent pod requests of a node, computed from the model, without rendering it.

Locality-aware admission compares this with a warm node's free room. It is an estimate
from below: one container per distinct (step type, image, resources) among the steps
that run, plus the services, each with the step's own requests over the project's
executor defaults (`sidecar.render.steps.resources`, as the pod gets them). The base
template's containers (jnlp) and the small init containers are not counted, so a node
this calls full is full; a node it calls free may still be a little short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.model import Pipeline
from sidecar.config.quantity import parse_quantity
from sidecar.config.trust import is_trusted, withheld
from sidecar.render.steps import resources, step_runs

NO_CONTAINER = ("approvalConfig", "sourceCodeConfig")  # these run in jnlp or not at all


@dataclass(frozen=True)
class Requests:
    """CPU (millicores) and memory (bytes) requested."""

    cpu_millis: int
    memory_bytes: int


def quantity_requests(cpu: str | None, memory: str | None) -> Requests:
    """Requests from quantity texts such as 500m, 1.5, 2Gi or 512Mi (None: nothing)."""
    millis = math.ceil(parse_quantity(cpu) * 1000) if cpu else 0
    return Requests(millis, math.ceil(parse_quantity(memory)) if memory else 0)


def pod_requests(pipeline: Pipeline, context: RenderContext,
                 settings: ProjectSettings) -> Requests:
    """The summed container requests of the run's pod (see the module docstring)."""
    seen: set[tuple] = set()
    total = Requests(0, 0)
    trusted = is_trusted(context, settings, pipeline)
    for stage in pipeline.stages:
        for step in stage.steps:
            if step.kind in NO_CONTAINER or not step_runs(stage, step, context) or \
                    (not trusted and withheld(step)):
                continue
            asked = resources(step.resources, settings)["requests"]
            key = (step.kind, step.options.get("image"), asked["cpu"], asked["memory"])
            if key not in seen:
                seen.add(key)
                total = _plus(total, quantity_requests(asked["cpu"], asked["memory"]))
    for service in pipeline.services:
        asked = resources(service.resources, settings)["requests"]
        total = _plus(total, quantity_requests(asked["cpu"], asked["memory"]))
    return total


def _plus(a: Requests, b: Requests) -> Requests:
    return Requests(a.cpu_millis + b.cpu_millis, a.memory_bytes + b.memory_bytes)
