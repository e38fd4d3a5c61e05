"""What the store knows about a pipeline's warm caches, and whether to hold a run for one.

The knowledge is what the affinity schemes read (`sidecar.cache.scheme.WarmKnowledge`):
finished executions with their node and cache slot (a cache is warm only once a run
finished there; the slot is the one its pod claimed on the node and reported), the
`cache gc` reports (NodeCache rows, present or pruned), and the (node, slot) pairs that
running executions of the pipeline hold. Runs of untrusted events use their
own cache scope, so only evidence of the same scope counts. With read access to nodes
and pods (`NodeRoom`), a run is also held while no usable warm node has room for its pod.
"""

from __future__ import annotations

import logging
import statistics
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar.cache import locality
from sidecar.cache.scheme import WarmCache, WarmKnowledge, by_room, usable_nodes
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
    """Whether to hold a run, and why."""

    hold: bool
    reason: str


class NodeRoom:
    """Free room on the cluster's nodes, read at most once: make one per engine cycle."""

    told = False  # the "unknown" is logged once per process, not every cycle

    def __init__(self, pods: PodLocator | None):
        self._pods = pods
        self._read = False
        self._rooms: dict[str, Room] | None = None
        self._reading = threading.Lock()  # the starter's threads render at once

    def rooms(self) -> dict[str, Room] | None:
        """Room per node; None when unknown (no Kubernetes, or RBAC denies the reads)."""
        with self._reading:
            if self._pods is not None and not self._read:
                self._read = True
                try:
                    self._rooms = self._pods.node_room()
                except KubeError as exc:
                    if not NodeRoom.told:
                        NodeRoom.told = True
                        log.info("node room unknown, holds cover busy warm slots only: %s",
                                 exc)
            return self._rooms


def epoch(moment: datetime | None) -> float:
    """Seconds since the epoch; SQLite hands back naive datetimes, which are UTC."""
    if moment is None:
        return float("-inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def knowledge(session: Session, execution: Execution,
              nodes: frozenset[str] | None = None) -> WarmKnowledge:
    """Warm knowledge for rendering `execution`."""
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
                         nodes=nodes, busy=busy_slots(session, execution),
                         history=tuple(history))


def scored(known: WarmKnowledge, room: NodeRoom | None) -> WarmKnowledge:
    """The knowledge with the nodes by free CPU, when kube-scheduler would score a sample.

    Only for a run with a usable warm node, in a cluster of more than `SCORED` nodes
    whose room the sidecar may read (`sidecar.cache.scheme`: the scored window).
    """
    if room is None or not usable_nodes(known):
        return known
    rooms = room.rooms() or {}
    return replace(known, roomy=by_room({node: r.cpu_millis_free for node, r in rooms.items()}))


def busy_slots(session: Session, execution: Execution) -> frozenset[tuple[str, int]]:
    """(node, slot) held by the pipeline's other running executions, as their pods reported."""
    rows = session.execute(select(Execution.node_name, Execution.cache_slot).where(
        Execution.pipeline_id == execution.pipeline_id, Execution.id != execution.id,
        Execution.state.in_(ACTIVE), Execution.node_name.is_not(None),
        Execution.cache_slot.is_not(None)))
    return frozenset((node, slot) for node, slot in rows)


def expected_run(session: Session, pipeline_id: str) -> float | None:
    """Median run time (s) of the pipeline's last successful executions; None if none."""
    rows = session.execute(select(Execution.started_at, Execution.ended_at).where(
        Execution.pipeline_id == pipeline_id, Execution.state == "Success",
        Execution.started_at.is_not(None), Execution.ended_at.is_not(None))
        .order_by(Execution.ended_at.desc()).limit(HISTORY)).all()
    if not rows:
        return None
    return statistics.median(epoch(end) - epoch(start) for start, end in rows)


def admission(session: Session, execution: Execution, settings: ProjectSettings,
              now: datetime, room: NodeRoom | None = None) -> Admission:
    """Hold the run for a warm node (locality rule), or start it."""
    model = executions.model_of(execution)
    context = executions.context_of(execution, execution.pipeline)
    if settings.affinity_scheme != "warm":
        return Admission(False, "")
    known = knowledge(session, execution)
    limit = locality.max_hold(expected_run(session, execution.pipeline_id),
                              settings.cache_saving, settings.warm_hold)
    held_for = None if execution.held_since is None else epoch(now) - epoch(execution.held_since)
    usable = usable_nodes(known)
    wanted = pod_requests(model, context, settings)
    # Kubernetes is asked only when a hold for room could follow.
    rooms = room.rooms() if usable and limit > 0 and room is not None else None
    fits = has_room(usable, rooms, wanted) if rooms is not None else None
    wait, source = expected_wait(session, execution, known, usable, rooms if fits is False
                                 else None, wanted, epoch(now)) if limit > 0 else (None, "")
    decision = locality.decide(usable=len(usable),
                               warm_elsewhere=bool(usable_nodes(known, any_slot=True)),
                               room=fits, held_for=held_for, limit=limit, wait=wait)
    reason = f"{decision.reason}; wait estimated {source}" if source else decision.reason
    return Admission(decision.hold, reason)


def expected_wait(session: Session, execution: Execution, known: WarmKnowledge,
                  usable: tuple[str, ...], rooms: dict[str, Room] | None, wanted: Requests,
                  now: float) -> tuple[float | None, str]:
    """Seconds until a warm node has room (rooms given) or a warm slot frees, and how known.

    Only the sidecar's own running executions are read: their node, start, and the
    median run time of their pipeline. Without room figures no wait for room is guessed;
    (None, "") when nothing of the sidecar's is expected to free it (the bound decides).
    """
    runs = session.scalars(select(Execution).where(
        Execution.state == "Building", Execution.id != execution.id,
        Execution.node_name.is_not(None), Execution.started_at.is_not(None))).all()
    expected: dict[str, float | None] = {}

    def left(run: Execution) -> float:
        if run.pipeline_id not in expected:
            expected[run.pipeline_id] = expected_run(session, run.pipeline_id)
        return max(0.0, epoch(run.started_at) + (expected[run.pipeline_id] or 0.0) - now)

    if usable and rooms is not None:
        nodes = []
        for node in usable:
            if node in rooms:
                own = [(left(r), _requests_of(r)) for r in runs if r.node_name == node]
                nodes.append(((rooms[node].cpu_millis_free, rooms[node].memory_bytes_free), own))
        wait = locality.wait_for_room(nodes, (wanted.cpu_millis, wanted.memory_bytes))
        return wait, "from node room and the sidecar's running executions" if wait is not None \
            else ""
    if usable:
        return None, ""
    warm = {(c.node, c.slot) for c in known.warm}
    ends = [left(r) for r in runs if r.pipeline_id == execution.pipeline_id
            and (r.node_name, r.cache_slot) in warm]
    if not ends:
        return None, ""
    return min(ends), "from the sidecar's running executions"


def _requests_of(run: Execution) -> tuple[int, int]:
    # Default settings: a project's own settings change only unset requests' defaults.
    requests = pod_requests(executions.model_of(run),
                            executions.context_of(run, run.pipeline), ProjectSettings())
    return requests.cpu_millis, requests.memory_bytes


def has_room(nodes: tuple[str, ...], rooms: dict[str, Room] | None,
             wanted: Requests) -> bool | None:
    """Whether one of `nodes` has room for `wanted`; None when no node's room is known."""
    known = [rooms[node] for node in nodes if rooms and node in rooms]
    return any(r.fits(wanted) for r in known) if known else None
