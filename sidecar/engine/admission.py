"""Quota admission: at most ``executorQuota`` executions of a project Building or Pending.

The rest wait in Queueing, oldest first. Only the engine loop admits, so two admissions
never race; a claimed execution is Building before Jenkins hears of it, which is what
keeps the quota exact across crashes.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sidecar.engine.projects import project_settings
from sidecar.store.models import Execution, utcnow

ACTIVE = ("Building", "Pending")
WAITING = ("Waiting", "Queueing")


def admit(session: Session) -> list[str]:
    """Claim the executions that may start now; returns their ids, oldest first."""
    projects = session.scalars(select(Execution.project).where(Execution.state.in_(WAITING))
                               .distinct()).all()
    admitted: list[str] = []
    for project in sorted(projects):
        admitted += _admit_project(session, project)
    return admitted


def _admit_project(session: Session, project: str) -> list[str]:
    quota = project_settings(session, project).executor_quota
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
        execution.state, execution.reason, execution.started_at = "Building", "", utcnow()
        execution.pipeline.last_run_state = "Building"
        active += 1
        admitted.append(execution.id)
    return admitted
