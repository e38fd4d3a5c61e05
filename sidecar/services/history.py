"""Execution history as a trace: one JSON object per started execution, oldest first.

``jenkins-sidecar history export`` writes it and ``benchmarks/cache_sim.py --trace``
replays it, so an operator sees what each affinity scheme and hold setting would have
done on their own cluster. Fields: ``pipeline``, ``executionId``, ``triggeredAt``,
``startedAt``, ``node``, ``cacheSlot``, ``durationSeconds`` (start to end, null while
running), ``result`` (the state), ``cacheHit`` and ``requests`` (``cpuMillis``,
``memoryBytes`` of the pod's step and service containers).

``cacheHit`` is what the sidecar can know without looking into the node: an execution
of the same pipeline and trust scope had finished on that node (in that slot, for slot
caches) before this one started. A gc prune in between is not seen, so on a cluster
whose gc removes caches often it counts a little high.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar.errors import SidecarError
from sidecar.render.requests import pod_requests
from sidecar.render.steps import UNTRUSTED_EVENTS
from sidecar.services import executions
from sidecar.services.projects import project_settings
from sidecar.store.models import Execution


def export(session: Session, since: datetime | None = None) -> Iterator[dict]:
    """Trace rows of every execution that started (after `since`), by start time."""
    query = select(Execution).where(Execution.started_at.is_not(None)) \
        .order_by(Execution.started_at, Execution.id)
    if since is not None:
        query = query.where(Execution.created_at >= since)
    warm: dict[tuple, datetime] = {}  # (pipeline, scope, node, slot) → first end seen
    pending: list[tuple[datetime, tuple]] = []  # ends not yet before a start
    settings: dict[str, object] = {}
    for execution in session.scalars(query):
        while pending and pending[0][0] <= _naive(execution.started_at):
            end, key = heapq.heappop(pending)
            warm.setdefault(key, end)
        scope = "untrusted" if execution.event in UNTRUSTED_EVENTS else "trusted"
        key = (execution.pipeline_id, scope, execution.node_name, execution.cache_slot)
        if execution.node_name and execution.ended_at is not None:
            heapq.heappush(pending, (_naive(execution.ended_at), key))
        yield _row(session, execution, bool(execution.node_name) and key in warm, settings)


def _row(session: Session, execution: Execution, hit: bool, settings: dict) -> dict:
    if execution.project not in settings:
        settings[execution.project] = project_settings(session, execution.project)
    try:
        asked = pod_requests(executions.model_of(execution),
                             executions.context_of(execution, execution.pipeline),
                             settings[execution.project])
        requests = {"cpuMillis": asked.cpu_millis, "memoryBytes": asked.memory_bytes}
    except SidecarError:  # an old execution whose config no longer parses: requests unknown
        requests = None
    duration = None
    if execution.ended_at is not None:
        duration = (_naive(execution.ended_at) - _naive(execution.started_at)).total_seconds()
    return {"pipeline": execution.pipeline_id, "executionId": execution.id,
            "triggeredAt": _time(execution.created_at), "startedAt": _time(execution.started_at),
            "node": execution.node_name, "cacheSlot": execution.cache_slot,
            "durationSeconds": duration, "result": execution.state, "cacheHit": hit,
            "requests": requests}


def _naive(moment: datetime) -> datetime:
    """UTC without tzinfo: SQLite hands back naive datetimes, PostgreSQL aware ones."""
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else _naive(moment).isoformat() + "Z"
