"""Which notifications an execution event sends, written to the outbox in the event's transaction.

Two events notify: a run's end (`executions.finish`) and an approval starting to wait
(`approvals.follow`, condition ``Pending``). The rows go into the same session as the
state change, so both commit or neither does; the engine's sender
(`sidecar.engine.notify_loop`) delivers them later. One row per (execution,
condition, notifier): recipients that share a notifier share its message, and a
second write of the same event finds the row and adds nothing.

An end matches ``Success``, ``Failed`` (Failed or Timeout) or ``Aborted`` (Aborted or
Denied), and ``Changed``, ``Fixed`` and ``Regression`` judged against the previous
finished run of the same pipeline (lower run number, in an end state), as Jenkins'
declarative ``post`` conditions judge ``getPreviousCompletedBuild()``
(pipeline-model-definition, ``model/conditions/{Changed,Fixed,Regression}.groovy``):
Changed when there is no previous run or its result differs; Fixed when this run
succeeded and the previous failed; Regression when this result is worse than the
previous one in Jenkins' order SUCCESS < FAILURE < ABORTED. The sidecar's states map
to those results as Success→SUCCESS, Failed and Timeout→FAILURE, Aborted and
Denied→ABORTED. When several listed conditions hold, the most specific one names the
single message (Fixed, Regression, Changed, then the end state itself).
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from sidecar import config
from sidecar.config.loader import format_path
from sidecar.config.model import Notification
from sidecar.errors import ConfigError, Problem
from sidecar.notify.channels import recipient_problem
from sidecar.store.models import (END_STATES, Approval, Execution, NotificationDelivery,
                                  Notifier)

RESULT_ORDER = {"Success": 0, "Failed": 2, "Timeout": 2, "Aborted": 4, "Denied": 4}
"""Jenkins' Result ordinals: SUCCESS 0, UNSTABLE 1, FAILURE 2, NOT_BUILT 3, ABORTED 4."""
END_CONDITION = {"Success": "Success", "Failed": "Failed", "Timeout": "Failed",
                 "Aborted": "Aborted", "Denied": "Aborted"}
PRECEDENCE = ("Fixed", "Regression", "Changed", "Success", "Failed", "Aborted")
EVERY_END = ("Success", "Failed", "Aborted")
"""The conditions of a notification that lists none."""


def end_conditions(state: str, previous: str | None) -> set[str]:
    """Every condition a run ending in state meets after a previous finished run's state."""
    found = {END_CONDITION[state]}
    if previous is None:
        return found | {"Changed"}
    now, before = RESULT_ORDER[state], RESULT_ORDER[previous]
    if now != before:
        found.add("Changed")
    if now == RESULT_ORDER["Success"] and before == RESULT_ORDER["Failed"]:
        found.add("Fixed")
    if now > before:
        found.add("Regression")
    return found


def on_end(execution: Execution) -> None:
    """Queue the notifications of a run that just ended (in the session that ends it)."""
    session = object_session(execution)
    notification = _notification(execution)
    if session is None or notification is None or execution.state not in END_STATES:
        return
    previous = session.scalar(select(Execution.state).where(
        Execution.pipeline_id == execution.pipeline_id, Execution.run < execution.run,
        Execution.state.in_(END_STATES)).order_by(Execution.run.desc()).limit(1))
    met = end_conditions(execution.state, previous)
    wanted = notification.condition or EVERY_END
    condition = next((c for c in PRECEDENCE if c in met and c in wanted), None)
    if condition:
        _enqueue(session, execution, notification, condition, "", fields(execution, condition))


def on_pending(session: Session, execution: Execution, approval: Approval) -> None:
    """Queue the ``Pending`` notifications of an approval that starts to wait."""
    notification = _notification(execution)
    if notification is None or "Pending" not in notification.condition:
        return
    found = fields(execution, "Pending")
    found["approval"] = {"inputId": approval.input_id, "message": approval.message,
                         "stage": approval.stage_index, "step": approval.step_index,
                         "timeoutAt": _time(approval.timeout_at)}
    _enqueue(session, execution, notification, "Pending",
             f"@{approval.stage_index}-{approval.step_index}", found)


def fields(execution: Execution, condition: str) -> dict[str, Any]:
    """The execution's fields as a message template and a webhook see them."""
    duration = None
    if execution.started_at and execution.ended_at:
        duration = round((execution.ended_at - execution.started_at).total_seconds(), 1)
    return {"pipeline": execution.pipeline_id, "project": execution.project,
            "executionId": execution.id, "run": execution.run, "state": execution.state,
            "condition": condition, "reason": execution.reason, "branch": execution.branch,
            "commit": execution.commit, "ref": execution.ref, "event": execution.event,
            "triggerType": execution.trigger_type, "triggeredBy": execution.triggered_by,
            "commitMessage": execution.message, "duration": duration,
            "createdAt": _time(execution.created_at), "startedAt": _time(execution.started_at),
            "endedAt": _time(execution.ended_at)}


def recipient_problems(session: Session, project: str, text: str, file: str,
                       notification: Notification | None) -> list[Problem]:
    """A problem, with its position, for each recipient whose notifier the project lacks."""
    if notification is None or not notification.recipients:
        return []
    known = dict(session.execute(select(Notifier.name, Notifier.type)
                                 .where(Notifier.project == project)).all())
    found: list[tuple[tuple, str]] = []
    for index, (recipient, name) in enumerate(notification.recipients):
        path = ("notification", "recipients", index)
        if name not in known:
            found.append((path + ("notifier",),
                          f"project {project} has no notifier named {name!r}"))
        elif (problem := recipient_problem(known[name], recipient)) is not None:
            found.append((path + ("recipient",), problem))
    if not found:
        return []
    located = config.load_text(text, file)  # positions, only when something is wrong
    return [Problem(message, located.pos(path), format_path(path)) for path, message in found]


def check_recipients(session: Session, project: str, text: str, file: str,
                     notification: Notification | None) -> None:
    """:raise ConfigError: a recipient names a notifier the project does not have"""
    problems = recipient_problems(session, project, text, file, notification)
    if problems:
        raise ConfigError(problems)


def views(deliveries: Iterable[Any]) -> list[dict[str, Any]]:
    """An execution's deliveries (rows or NotificationDelivery) as its native view shows them."""
    return [{"notifier": d.notifier, "condition": d.condition, "recipients": d.recipients,
             "state": d.state, "attempts": d.attempts, "lastError": d.last_error or None,
             "templateError": d.template_error or None, "sentAt": _time(d.sent_at)}
            for d in deliveries]


def _enqueue(session: Session, execution: Execution, notification: Notification,
             condition: str, suffix: str, found: dict[str, Any]) -> None:
    by_notifier: dict[str, list[str]] = {}
    for recipient, name in notification.recipients:
        by_notifier.setdefault(name, []).append(recipient)
    known = set(session.scalars(select(Notifier.name).where(
        Notifier.project == execution.project, Notifier.name.in_(by_notifier))))
    for name, recipients in by_notifier.items():
        delivery_id = f"{execution.id}/{condition}{suffix}/{name}"
        if session.scalar(select(NotificationDelivery.id).where(
                NotificationDelivery.delivery_id == delivery_id)) is not None:
            continue
        missing = "" if name in known else \
            f"project {execution.project} has no notifier named {name!r}"
        # The unique delivery id stops a concurrent writer of the same event: its
        # transaction fails whole and the next engine cycle finds this row.
        execution.notifications.append(NotificationDelivery(
            delivery_id=delivery_id, execution_id=execution.id, notifier=name,
            condition=condition, recipients=recipients, fields=found,
            template=notification.message, state="Failed" if missing else "Queued",
            last_error=missing))


def _notification(execution: Execution) -> Notification | None:
    if "notification" not in execution.config_snapshot:
        return None
    try:
        notification = config.parse_pipeline(execution.config_snapshot, "config").notification
    except ConfigError:  # a snapshot of an older format; its run goes on unannounced
        return None
    return notification if notification and notification.recipients else None


def _time(value) -> str | None:
    return value.isoformat() if value else None
