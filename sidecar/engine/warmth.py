"""What the store knows about a pipeline's warm caches, and whether to hold a run for one.

The knowledge is what the affinity schemes read (`sidecar.cache.scheme.WarmKnowledge`):
finished executions with their node and cache slot (a cache is warm only once a run
finished there), the `cache gc` reports (NodeCache rows, present or pruned), and the
slots that running executions of the pipeline hold. Runs of untrusted events use their
own cache scope, so only evidence of the same scope counts. With read access to nodes
and pods (`NodeRoom`), a run is also held while no usable warm node has room for its pod.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar import cache
from sidecar.cache import locality
from sidecar.cache.scheme import WarmCache, WarmKnowledge, choose_slot, usable_nodes
from sidecar.config.inputs import ProjectSettings
from sidecar.kube import KubeError, PodLocator, Room
from sidecar.render.requests import Requests, pod_requests
from sidecar.render.steps import UNTRUSTED_EVENTS
from sidecar.services import executions
from sidecar.store.models import END_STATES, Execution, NodeCache, ScheduledInfo

log = logging.getLogger(__name__)
ACTIVE = ("Building", "Pending")
EVIDENCE = 40  # finished runs read; far more than the nodes LRU gc keeps one pipeline on
HISTORY = 10


@dataclass(frozen=True)
class Admission:
    """Whether to hold a run, why, and the slot it mounts if it starts."""

    hold: bool
    reason: str
    slot: int | None


class NodeRoom:
    """Free room on the cluster's nodes, read at most once: make one per engine cycle."""

    told = False  # the "unknown" is logged once per process, not every cycle

    def __init__(self, pods: PodLocator | None):
        self._pods = pods
        self._read = False
        self._rooms: dict[str, Room] | None = None

    def rooms(self) -> dict[str, Room] | None:
        """Room per node; None when unknown (no Kubernetes, or RBAC denies the reads)."""
        if self._pods is not None and not self._read:
            self._read = True
            try:
                self._rooms = self._pods.node_room()
            except KubeError as exc:
                if not NodeRoom.told:
                    NodeRoom.told = True
                    log.info("node room unknown, holds cover busy warm slots only: %s", exc)
        return self._rooms


def epoch(moment: datetime | None) -> float:
    """Seconds since the epoch; SQLite hands back naive datetimes, which are UTC."""
    if moment is None:
        return float("-inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def knowledge(session: Session, execution: Execution, slot: int | None,
              nodes: frozenset[str] | None = None) -> WarmKnowledge:
    """Warm knowledge for rendering `execution` with cache slot `slot`."""
    untrusted = execution.event in UNTRUSTED_EVENTS
    scope = "untrusted" if untrusted else "trusted"
    same_scope = Execution.event.in_(UNTRUSTED_EVENTS) if untrusted else \
        Execution.event.not_in(UNTRUSTED_EVENTS)
    finished = session.execute(
        select(ScheduledInfo.node_name, Execution.cache_slot, Execution.ended_at)
        .join(Execution, Execution.id == ScheduledInfo.execution_id)
        .where(ScheduledInfo.pipeline_id == execution.pipeline_id,
               Execution.state.in_(END_STATES), Execution.ended_at.is_not(None), same_scope)
        .order_by(Execution.ended_at.desc()).limit(EVIDENCE)).all()
    warm = [WarmCache(node, slot_, epoch(ended)) for node, slot_, ended in finished]
    pruned: dict[tuple[str, int | None], float] = {}
    for row in session.scalars(select(NodeCache).where(
            NodeCache.pipeline_id == execution.pipeline_id, NodeCache.scope == scope)):
        if row.state in ("pruned", "gone"):  # removed by gc, or the node left the cluster
            key = (row.node_name, row.slot)
            pruned[key] = max(pruned.get(key, float("-inf")), epoch(row.reported_at))
        else:
            used = row.last_used_at or row.reported_at
            warm.append(WarmCache(row.node_name, row.slot, epoch(used)))
    history = session.scalars(select(ScheduledInfo.node_name).where(
        ScheduledInfo.pipeline_id == execution.pipeline_id)
        .order_by(ScheduledInfo.created_at.desc()).limit(HISTORY)).all()
    return WarmKnowledge(warm=tuple(sorted(warm, key=lambda c: -c.at)), pruned=pruned,
                         nodes=nodes, slot=slot, history=tuple(history))


def active_slots(session: Session, execution: Execution) -> set[int]:
    """Slots held by the pipeline's other running executions."""
    return set(session.scalars(select(Execution.cache_slot).where(
        Execution.pipeline_id == execution.pipeline_id, Execution.id != execution.id,
        Execution.state.in_(ACTIVE), Execution.cache_slot.is_not(None))))


def expected_run(session: Session, pipeline_id: str) -> float | None:
    """Mean run time (s) of the pipeline's last successful executions; None if none."""
    rows = session.execute(select(Execution.started_at, Execution.ended_at).where(
        Execution.pipeline_id == pipeline_id, Execution.state == "Success",
        Execution.started_at.is_not(None), Execution.ended_at.is_not(None))
        .order_by(Execution.ended_at.desc()).limit(HISTORY)).all()
    if not rows:
        return None
    return sum(epoch(end) - epoch(start) for start, end in rows) / len(rows)


def admission(session: Session, execution: Execution, settings: ProjectSettings,
              now: datetime, room: NodeRoom | None = None) -> Admission:
    """Hold the run for a warm node (locality rule), or start it with its slot."""
    model = executions.model_of(execution)
    context = executions.context_of(execution, execution.pipeline)
    slot = choose_slot(active_slots(session, execution)) if cache.uses_slots(model, context) \
        else None
    if settings.affinity_scheme != "warm":
        return Admission(False, "", slot)
    known = knowledge(session, execution, slot)
    limit = locality.max_hold(expected_run(session, execution.pipeline_id),
                              settings.cache_saving, settings.warm_hold)
    held_for = None if execution.held_since is None else epoch(now) - epoch(execution.held_since)
    usable = usable_nodes(known)
    # Kubernetes is asked only when a hold for room could follow.
    fits = has_room(usable, room.rooms(), pod_requests(model, context, settings)) \
        if usable and limit > 0 and room is not None else None
    decision = locality.decide(usable=len(usable),
                               warm_elsewhere=bool(usable_nodes(known, any_slot=True)),
                               room=fits, held_for=held_for, limit=limit)
    return Admission(decision.hold, decision.reason, slot)


def has_room(nodes: tuple[str, ...], rooms: dict[str, Room] | None,
             wanted: Requests) -> bool | None:
    """Whether one of `nodes` has room for `wanted`; None when no node's room is known."""
    known = [rooms[node] for node in nodes if rooms and node in rooms]
    return any(r.fits(wanted) for r in known) if known else None
