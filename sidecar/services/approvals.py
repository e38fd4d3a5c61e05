"""Approvals: a run paused on an ``input`` step waits for a human decision (DESIGN §8).

Sync records one Approval per paused approval step, the first time Jenkins lists its
input. A decision is written to the store before anything is sent to Jenkins ("Approved,
not yet delivered"), with a conditional update, so two deciders cannot both win and an
outage cannot lose it; `approval_loop` delivers it. When the run ends, a rejection
makes it Denied and a timed-out approval makes it Timeout.

States: Pending, Approved, Rejected, TimedOut, Cancelled (the run ended, or the input
was answered in Jenkins itself, before a decision came through the sidecar).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sidecar import render
from sidecar.errors import ConfigError, Problem
from sidecar.jenkins import InputRequest, JenkinsClient, JenkinsError, JenkinsUnavailable
from sidecar.metrics import record
from sidecar.services import executions, notifications
from sidecar.services.access import Forbidden, Principal
from sidecar.services.pipelines import Conflict, NotFound
from sidecar.store.models import Approval, Execution, StepState, utcnow

log = logging.getLogger(__name__)
STATES = ("Pending", "Approved", "Rejected", "TimedOut", "Cancelled")
JENKINS_SLACK = timedelta(seconds=30)


def jenkins_input_id(input_id: str) -> str:
    """The id Jenkins gives an input: ``InputStep.setId`` capitalises a leading a-z."""
    if input_id[:1].isascii() and input_id[:1].islower():
        return input_id[0].upper() + input_id[1:]
    return input_id


def follow(session: Session, execution: Execution, jenkins: JenkinsClient) -> bool:
    """Record approvals of newly paused steps; close those answered in Jenkins itself.

    True when a paused step's input is not registered in Jenkins yet: look again soon.
    """
    approvals = {(a.stage_index, a.step_index): a for a in of_execution(session, execution.id)}
    for step in execution.steps:
        approval = approvals.get((step.stage_index, step.step_index))
        if approval is not None and approval.state == "Pending" and \
                step.state not in ("Pending", "Waiting"):
            _settle(approval, execution, f"the input ended in Jenkins ({step.state})",
                    aborted=step.state in ("Aborted", "Timeout"),
                    timed_out=step.state == "Timeout")
    new = [s for s in execution.steps
           if s.state == "Pending" and (s.stage_index, s.step_index) not in approvals]
    if not new:
        return False
    prepared = _prepared(execution)
    inputs, unregistered = None, False
    for step in new:
        config_step = prepared.stages[step.stage_index].steps[step.step_index]
        if config_step.kind != "approvalConfig":
            continue
        if inputs is None:  # one request, only in the cycle that sees a new pause
            inputs = _pending_inputs(execution, jenkins)
        options = config_step.options
        input_id = options.get("id") or f"approval-{step.stage_index}-{step.step_index}"
        wanted = jenkins_input_id(input_id)
        found = next((i for i in inputs if i.id == wanted), None) or \
            next((i for i in inputs if i.id.lower() == input_id.lower()), None)
        if found is None:
            unregistered = True  # Jenkins has not registered the input yet
            continue
        approval = Approval(
            execution_id=execution.id, stage_index=step.stage_index,
            step_index=step.step_index, input_id=input_id, jenkins_input_id=found.id,
            message=found.message or options["message"], ok_text=options.get("ok", "Proceed"),
            submitters=list(options.get("submitters") or []),
            parameters=[_definition(p) for p in options.get("parameters") or ()],
            state="Pending", created_at=utcnow(),
            timeout_at=utcnow() + timedelta(minutes=options.get("timeout", 60)))
        session.add(approval)
        notifications.on_pending(session, execution, approval)
    session.flush()
    return unregistered


def _pending_inputs(execution: Execution, jenkins: JenkinsClient) -> list[InputRequest]:
    try:
        return jenkins.pending_inputs(execution.jenkins_job, execution.jenkins_build)
    except JenkinsUnavailable:
        raise
    except JenkinsError as exc:  # e.g. not allowed to see inputs: retried next cycle
        log.warning("cannot read the pending inputs of %s: %s", execution.id, exc)
        return []


def outcome(session: Session, execution: Execution, state: str) -> str:
    """The end state of a run that Jenkins ended with `state`, given its approvals.

    Jenkins reports a rejected input and a timed-out one as ABORTED, like a stop.
    """
    result = state
    for approval in of_execution(session, execution.id):
        step = session.get(StepState, (execution.id, approval.stage_index,
                                       approval.step_index))
        if approval.state == "Pending":
            _settle(approval, execution, f"the run ended ({state})",
                    aborted=state in ("Aborted", "Timeout"),
                    timed_out=step is not None and step.state == "Timeout")
        if state != "Aborted" or execution.stop_requested:
            continue
        ends = {"Rejected": "Denied", "TimedOut": "Timeout"}.get(approval.state)
        if ends:
            result = ends
            if step is not None:
                step.state = ends
    return result


def decide(session: Session, approval_id: int, principal: Principal, *, approve: bool,
           parameters: Mapping[str, Any], comment: str, via: str = "api") -> Approval:
    """Record a decision, not yet delivered. :raise NotFound, Forbidden, Conflict, ConfigError:"""
    approval = get(session, approval_id)
    if approval.submitters and not principal.is_one_of(approval.submitters):
        raise Forbidden(f"only {', '.join(approval.submitters)} may decide this approval")
    if approval.state != "Pending":
        raise Conflict(f"approval {approval_id} is {approval.state}, not Pending")
    if expired(approval):  # the engine is about to abort it
        raise Conflict(f"approval {approval_id} has timed out")
    values = input_values(approval.parameters, parameters) if approve else {}
    decision = {"approve": approve, "parameters": values, "comment": comment, "via": via,
                "deliveredAt": None, "deliveryAttempts": 0, "deliveryError": None}
    changed = session.execute(
        update(Approval).where(Approval.id == approval_id, Approval.state == "Pending")
        .values(state="Approved" if approve else "Rejected", decided_by=principal.user,
                decided_at=utcnow(), decision=decision)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:  # someone else decided (or the timeout fired) in the meantime
        raise Conflict(f"approval {approval_id} was decided meanwhile")
    session.refresh(approval)
    record.approval_ended(approval, approval.state, approval.decided_at)
    return approval


def input_values(definitions: list[dict], given: Mapping[str, Any]) -> dict[str, Any]:
    """Given input values checked against the definitions, defaults filled in."""
    known = {d["name"]: d for d in definitions}
    problems = [Problem(f"unknown parameter '{name}'", config_path=f"parameters.{name}")
                for name in given if name not in known]
    values = {}
    for name, definition in known.items():
        value, problem = _value(definition, given.get(name, definition["default"]))
        if problem:
            problems.append(Problem(problem, config_path=f"parameters.{name}"))
        values[name] = value
    if problems:
        raise ConfigError(problems)
    return values


def _value(definition: dict, value: Any) -> tuple[Any, str | None]:
    kind = definition["type"]
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        if value in ("true", "false"):
            return value == "true", None
        return value, "must be true or false"
    if not isinstance(value, str):
        return value, "must be a string"
    if kind == "choice" and value not in definition["choices"]:
        return value, f"'{value}' is not one of {', '.join(definition['choices'])}"
    return value, None


def get(session: Session, approval_id: int) -> Approval:
    """An approval by id. :raise NotFound:"""
    # Ids beyond a 32-bit integer cannot exist, and the databases refuse to compare them.
    approval = session.get(Approval, approval_id) if 0 < approval_id < 2 ** 31 else None
    if approval is None:
        raise NotFound(f"approval {approval_id} not found")
    return approval


def of_execution(session: Session, execution_id: str) -> list[Approval]:
    """An execution's approvals, in step order."""
    return list(session.scalars(select(Approval).where(Approval.execution_id == execution_id)
                                .order_by(Approval.stage_index, Approval.step_index)))


def listing(session: Session, *, state: str | None = None, pipeline_id: str | None = None,
            limit: int = 100) -> list[Approval]:
    """Approvals, newest first."""
    query = select(Approval).order_by(Approval.created_at.desc(), Approval.id.desc())
    if state:
        query = query.where(Approval.state == state)
    if pipeline_id:
        query = query.join(Execution).where(Execution.pipeline_id == pipeline_id)
    return list(session.scalars(query.limit(limit)))


def execution_of_run(session: Session, pipeline_id: str, run: int) -> Execution:
    """The execution with a pipeline's run number. :raise NotFound:"""
    execution = session.scalars(select(Execution).where(
        Execution.pipeline_id == pipeline_id, Execution.run == run)).one_or_none()
    if execution is None:
        raise NotFound(f"run {run} of {pipeline_id} not found")
    return execution


def for_input(session: Session, execution: Execution, input_id: str) -> Approval:
    """The approval of a run by its (Jenkins or config) input id. :raise NotFound:"""
    matching = [a for a in of_execution(session, execution.id)
                if input_id in (a.jenkins_input_id, a.input_id)]
    if matching:  # an id used twice in a config: the one still waiting first
        return sorted(matching, key=lambda a: a.state != "Pending")[0]
    raise NotFound("Error processing Input Submit request. This Run instance does not have "
                   f"an Input with an id of '{input_id}'.")


def view(session: Session, approval: Approval, public_url: str = "") -> dict[str, Any]:
    """What the API (and the outgoing webhook) shows of an approval."""
    execution = executions.get(session, approval.execution_id)
    base = f"{public_url.rstrip('/')}/api/v1/approvals/{approval.id}"
    decision = approval.decision or {}
    return {
        "id": approval.id, "executionId": approval.execution_id,
        "pipelineId": execution.pipeline_id, "run": execution.run,
        "stage": approval.stage_index, "step": approval.step_index,
        "stageName": _stage_name(execution, approval), "inputId": approval.input_id,
        "jenkinsInputId": approval.jenkins_input_id, "message": approval.message,
        "ok": approval.ok_text, "submitters": approval.submitters,
        "parameters": approval.parameters, "state": approval.state,
        "createdAt": _time(approval.created_at), "timeoutAt": _time(approval.timeout_at),
        "notifiedAt": _time(approval.notified_at), "notifyAttempts": approval.notify_attempts,
        "decidedBy": approval.decided_by, "decidedAt": _time(approval.decided_at),
        "decision": decision or None,
        "delivered": bool(decision.get("deliveredAt")),
        "links": {"self": base, "decision": f"{base}/decision",
                  "execution": f"{public_url.rstrip('/')}/api/v1/executions/"
                               f"{execution.id}"},
    }


def _settle(approval: Approval, execution: Execution, why: str, *, aborted: bool,
            timed_out: bool = False) -> None:
    """Close an approval whose input ended without a decision through the sidecar.

    timed_out: Jenkins' stage lasted the approval's whole timeout (sync judged it by
    Jenkins' own clock), however late the sidecar saw the pause begin.
    """
    # Else: Jenkins' timeout starts with the step, a moment before sync saw the pause.
    if timed_out or aborted and expired(approval, slack=JENKINS_SLACK) and \
            not execution.stop_requested:
        _close(approval, "TimedOut", "Jenkins' input timeout fired")
    else:
        _close(approval, "Cancelled", why)


def _close(approval: Approval, state: str, why: str) -> None:
    approval.state, approval.decided_at = state, utcnow()
    record.approval_ended(approval, state, approval.decided_at)
    approval.decision = {"approve": False, "parameters": {}, "comment": why,
                         "via": "jenkins" if state == "Cancelled" else "timeout",
                         "deliveredAt": approval.decided_at.isoformat(),
                         "deliveryAttempts": 0, "deliveryError": None}


def expired(approval: Approval, *, slack: timedelta = timedelta(0)) -> bool:
    """True once an approval's timeout (less slack) has passed."""
    now, at = utcnow(), approval.timeout_at
    if at is None:
        return False
    if at.tzinfo is None:  # SQLite returns naive datetimes
        at = at.replace(tzinfo=now.tzinfo)
    return now >= at - slack


def _definition(parameter) -> dict[str, Any]:
    return {"name": parameter.name, "type": parameter.type, "default": parameter.default,
            "description": parameter.description, "choices": list(parameter.choices)}


def _prepared(execution: Execution):
    model = executions.model_of(execution)
    return render.prepare(model, executions.context_of(execution, execution.pipeline))


def _stage_name(execution: Execution, approval: Approval) -> str:
    return next((s.stage_name for s in execution.steps
                 if (s.stage_index, s.step_index) == (approval.stage_index, approval.step_index)),
                "")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
