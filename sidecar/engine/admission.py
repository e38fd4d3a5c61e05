"""Quota admission: at most ``executorQuota`` executions of a project Building or Pending.

The rest wait in Queueing, oldest first. Only the engine loop admits, so two admissions
never race; a claimed execution is Building before Jenkins hears of it, which is what
keeps the quota exact across crashes. Quota allowing, locality-aware admission
(`sidecar.engine.warmth`) may still hold a run in Queueing for a bounded time, while
only busy slots (or, with node and pod reads, full nodes) hold its warm cache; a run
that starts gets its cache slot here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sidecar.engine import isolation, warmth
from sidecar.metrics import record
from sidecar.services.projects import project_settings
from sidecar.store.models import Execution, utcnow

log = logging.getLogger(__name__)
ACTIVE = ("Building", "Pending")
WAITING = ("Waiting", "Queueing")


def admit(session: Session, now: datetime | None = None,
          room: warmth.NodeRoom | None = None,
          retries: isolation.Retries = isolation.Retries()) -> list[str]:
    """Claim the executions that may start now; returns their ids, oldest first.

    room: the nodes' free room for this cycle (None: unknown, holds ignore room).
    retries: what happens to an execution whose admission fails.
    """
    now = now or utcnow()
    projects = session.scalars(select(Execution.project).where(Execution.state.in_(WAITING))
                               .distinct()).all()
    admitted: list[str] = []
    for project in sorted(projects):
        try:
            with session.begin_nested():
                admitted += _admit_project(session, project, now, room, retries)
        except Exception:  # e.g. unreadable project settings; others go on
            log.exception("could not admit the executions of project %s", project)
    return admitted


def _admit_project(session: Session, project: str, now: datetime,
                   room: warmth.NodeRoom | None, retries: isolation.Retries) -> list[str]:
    settings = project_settings(session, project)
    quota = settings.executor_quota
    active = session.scalar(select(func.count()).select_from(Execution).where(
        Execution.project == project, Execution.state.in_(ACTIVE))) or 0
    waiting = session.scalars(select(Execution).where(
        Execution.project == project, Execution.state.in_(WAITING))
        .order_by(Execution.created_at, Execution.run))
    admitted = []
    for execution in waiting:
        if quota and active >= quota:
            if execution.state != "Queueing":
                execution.state, execution.reason = "Queueing", f"project quota of {quota} reached"
            continue
        if warmth.epoch(execution.retry_at) > warmth.epoch(now):
            continue  # backing off after a failure (sidecar.engine.isolation)
        try:
            with session.begin_nested():  # a failed read must not spoil the others' writes
                decision = warmth.admission(session, execution, settings, now, room)
        except Exception as exc:  # one bad execution never stalls the others
            isolation.logged("admit", execution.id, exc)
            retries.record(execution, "admit", exc, now)
            continue
        if decision.hold:
            if execution.held_since is None:
                record.cache_placed(execution, "held")
            execution.state, execution.reason = "Queueing", decision.reason
            execution.held_since = execution.held_since or now
            continue
        _start(execution, decision, now)
        active += 1
        admitted.append(execution.id)
    return admitted


def _start(execution: Execution, decision: warmth.Admission, now: datetime) -> None:
    if execution.held_since is not None:
        held = warmth.epoch(now) - warmth.epoch(execution.held_since)
        execution.placement_note = f"held {held:.0f}s for a warm node; then {decision.reason}"
    elif "wait estimated" in decision.reason:  # a hold was weighed: say on what estimate
        execution.placement_note = f"not held: {decision.reason}"
    record.run_started(execution, now, execution.held_since)
    execution.state, execution.reason, execution.started_at = "Building", "", now
    # The slot is claimed by the pod on its node and reported with the node.
    execution.held_since, execution.cache_slot = None, None
    isolation.cleared(execution)
    execution.pipeline.last_run_state = "Building"
