"""The reads behind the native executions API: a fixed number of queries per page.

A page is read newest first (creation time, then run number, then id: a total order)
and continued by keyset, not by offset: ``cursor`` names the last execution of the
previous page by those three values, so the next page starts right after it however
many executions were triggered in between, with none repeated or skipped, and at the
same cost at page 1 and page 1,000. Steps and notifications come in one query each for
the whole page, as plain rows of the columns the view shows (building an ORM object per
step cost more than the rest of a page); the rendered Jenkinsfile, pod YAML and config
snapshot, which the view does not show, are never read.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, defer, selectinload

from sidecar.errors import ConfigError, Problem
from sidecar.services.pipelines import NotFound
from sidecar.store.models import Execution, NotificationDelivery, StepState

MAX_CURSOR = 1000  # characters; a cursor this service makes is far shorter
UNSHOWN = (defer(Execution.jenkinsfile), defer(Execution.pod_yaml),
           defer(Execution.config_snapshot))
VIEW = (*UNSHOWN, selectinload(Execution.steps), selectinload(Execution.notifications))
STEP_ROWS = (StepState.execution_id, StepState.stage_index, StepState.step_index,
             StepState.stage_name, StepState.state, StepState.started_at, StepState.ended_at)
DELIVERY_ROWS = (NotificationDelivery.execution_id, NotificationDelivery.notifier,
                 NotificationDelivery.condition, NotificationDelivery.recipients,
                 NotificationDelivery.state, NotificationDelivery.attempts,
                 NotificationDelivery.last_error, NotificationDelivery.template_error,
                 NotificationDelivery.sent_at)


@dataclass(frozen=True)
class Listed:
    """An execution of a page with its steps and deliveries (rows, in view order)."""

    execution: Execution
    steps: list[Any]
    deliveries: list[Any]


def page(session: Session, *, pipeline_id: str | None = None, state: str | None = None,
         limit: int = 100, cursor: str | None = None) -> list[Listed]:
    """Executions newest first, after the cursor's if one is given. :raise ConfigError:"""
    query = select(Execution).options(*UNSHOWN).order_by(
        Execution.created_at.desc(), Execution.run.desc(), Execution.id.desc())
    if pipeline_id:
        query = query.where(Execution.pipeline_id == pipeline_id)
    if state:
        query = query.where(Execution.state == state)
    if cursor:
        created, run, execution_id = _decode(cursor)
        query = query.where(or_(
            Execution.created_at < created,
            and_(Execution.created_at == created, or_(
                Execution.run < run,
                and_(Execution.run == run, Execution.id < execution_id)))))
    found = list(session.scalars(query.limit(limit)))
    if not found:
        return []
    ids = [execution.id for execution in found]
    steps = _by_execution(session, select(*STEP_ROWS).where(StepState.execution_id.in_(ids))
                          .order_by(StepState.stage_index, StepState.step_index))
    deliveries = _by_execution(session, select(*DELIVERY_ROWS)
                               .where(NotificationDelivery.execution_id.in_(ids))
                               .order_by(NotificationDelivery.id))
    return [Listed(e, steps.get(e.id, []), deliveries.get(e.id, [])) for e in found]


def _by_execution(session: Session, statement) -> dict[str, list[Any]]:
    """The statement's rows grouped by their execution_id, in the statement's order."""
    grouped: dict[str, list[Any]] = {}
    for row in session.execute(statement):
        grouped.setdefault(row.execution_id, []).append(row)
    return grouped


def cursor_after(execution: Execution) -> str:
    """The cursor of the page that follows this execution."""
    key = [execution.created_at.isoformat(), execution.run, execution.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def detail(session: Session, execution_id: str) -> Execution:
    """An execution with its steps and notifications. :raise NotFound:"""
    found = session.scalars(select(Execution).options(*VIEW)
                            .where(Execution.id == execution_id)).first()
    if found is None:
        raise NotFound(f"execution {execution_id} not found")
    return found


def _decode(cursor: str) -> tuple[datetime, int, str]:
    """The three keys of a cursor. :raise ConfigError: not one this service made"""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError(cursor)
        created, run, execution_id = json.loads(base64.urlsafe_b64decode(
            cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(run, int) and isinstance(execution_id, str)):
            raise ValueError(cursor)
        return datetime.fromisoformat(created), run, execution_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ConfigError(Problem("cursor is not one this service returned",
                                  config_path="cursor")) from None
