"""Executions: trigger (with parameters or a temporary config), rerun, stop request, views.

Triggering only records an execution in state Waiting with its config snapshot; the
engine loop admits it under the project's quota, renders it and starts it in Jenkins.
That keeps the API fast and makes the database the single source of truth across
restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from sidecar import config, render
from sidecar.config.inputs import RenderContext
from sidecar.config.model import Pipeline as PipelineModel
from sidecar.config.trust import TAG_PREFIX, ref_problem
from sidecar.config.when import branch_matches
from sidecar.errors import ConfigError, Problem
from sidecar.jenkins import build_url
from sidecar.metrics import record
from sidecar.services import notifications, projects
from sidecar.services.pipelines import Conflict, NotFound
from sidecar.store.models import (END_STATES, Execution, Pipeline, ScheduledInfo,
                                  StepState, utcnow)

TRIGGER_TYPES = ("user", "webhook", "image", "cron", "rerun")
LIMITS = {name: Execution.__table__.c[name].type.length for name in ("branch", "ref", "commit")}
"""The longest branch, ref and commit a run stores: PostgreSQL refuses longer values."""


@dataclass(frozen=True)
class TriggerRequest:
    """What starts an execution."""

    trigger_type: str = "user"
    event: str = "manual"
    branch: str = "main"
    ref: str = ""
    commit: str = ""
    message: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    config_text: str | None = None


def trigger(session: Session, pipeline_id: str, request: TriggerRequest) -> Execution:
    """Record a new execution in Waiting. :raise ConfigError: bad config or parameters."""
    # Taking the run number is the transaction's first statement, a single UPDATE:
    # concurrent triggers serialise on it in SQLite and PostgreSQL alike.
    run = session.execute(update(Pipeline).where(Pipeline.id == pipeline_id)
                          .values(next_run=Pipeline.next_run + 1)
                          .returning(Pipeline.next_run)).scalar_one_or_none()
    if run is None:
        raise NotFound(f"pipeline {pipeline_id} not found")
    run -= 1
    pipeline = session.get(Pipeline, pipeline_id)
    session.refresh(pipeline)
    if pipeline.disabled:
        raise Conflict(f"pipeline {pipeline_id} is disabled")
    text = request.config_text if request.config_text is not None else pipeline.inline_config
    if text is None:
        raise ConfigError(Problem("the pipeline has no inline config; pass a config to run"))
    request = _checked_event(request)
    model = config.parse_pipeline(text, "config")
    projects.check_secrets(session, pipeline.project, text, "config")
    if not branch_matches(model.branch, request.branch):
        raise Conflict(f"branch {request.branch!r} is outside the pipeline's branch filter")
    notifications.check_recipients(session, pipeline.project, text, "config",
                                   model.notification)
    pipeline.last_run_state = "Waiting"
    execution = Execution(
        id=f"{pipeline.id}-{run}", pipeline_id=pipeline.id, project=pipeline.project, run=run,
        trigger_type=request.trigger_type, event=request.event, branch=request.branch,
        ref=request.ref, commit=request.commit, message=request.message,
        parameters=_parameters(model, request.parameters), config_snapshot=text,
        state="Waiting", created_at=utcnow())
    session.add(execution)
    prepared = render.prepare(model, context_of(execution, pipeline))
    session.add_all(StepState(execution_id=execution.id, stage_index=s, step_index=i,
                              stage_name=stage.name, state="Waiting")
                    for s, stage in enumerate(prepared.stages) for i, _ in enumerate(stage.steps))
    session.flush()
    return execution


def too_long(**values: str) -> list[Problem]:
    """A problem naming each of branch, ref and commit that is longer than a run stores."""
    return [Problem(f"longer than {LIMITS[name]} characters", config_path=name)
            for name, value in values.items() if len(value) > LIMITS[name]]


def check_lengths(request: TriggerRequest) -> None:
    """:raise ConfigError: naming the request's branch, ref or commit if one is too long"""
    problems = too_long(branch=request.branch, ref=request.ref, commit=request.commit)
    if problems:
        raise ConfigError(problems)


def rerun(session: Session, execution_id: str) -> Execution:
    """A new execution with the same config, commit and parameters."""
    old = get(session, execution_id)
    return trigger(session, old.pipeline_id, TriggerRequest(
        trigger_type="rerun", event=old.event, branch=old.branch, ref=old.ref,
        commit=old.commit, message=old.message, parameters=old.parameters,
        config_text=old.config_snapshot))


def request_stop(session: Session, execution_id: str) -> Execution:
    """Abort a run that has not started; ask the engine to stop one that has."""
    execution = get(session, execution_id)
    if execution.state in END_STATES:
        raise Conflict(f"execution {execution_id} has ended ({execution.state})")
    if execution.state in ("Waiting", "Queueing"):
        finish(execution, "Aborted", "stopped before it started")
    else:
        execution.stop_requested = True
    return execution


def finish(execution: Execution, state: str, reason: str = "", at: datetime | None = None) -> None:
    """Move an execution to an end state; steps still open end with it; queue its notices."""
    execution.state, execution.reason = state, reason or execution.reason
    execution.ended_at = at or utcnow()
    execution.pipeline.last_run_state = state
    for step in execution.steps:
        if step.state in ("Waiting", "Building", "Pending"):
            step.state = "Skipped" if step.state == "Waiting" else "Aborted"
            step.ended_at = step.ended_at or execution.ended_at
    notifications.on_end(execution)
    record.run_finished(execution)


def record_node(session: Session, execution: Execution, node_name: str, source: str) -> bool:
    """Remember the first node an execution's pod ran on; False if one is known already."""
    if execution.node_name is not None:
        return False
    execution.node_name = node_name
    session.add(ScheduledInfo(execution_id=execution.id, pipeline_id=execution.pipeline_id,
                              node_name=node_name, source=source))
    return True


def get(session: Session, execution_id: str) -> Execution:
    """An execution by id. :raise NotFound:"""
    execution = session.get(Execution, execution_id)
    if execution is None:
        raise NotFound(f"execution {execution_id} not found")
    return execution


def listing(session: Session, *, pipeline_id: str | None = None, state: str | None = None,
            limit: int = 100) -> list[Execution]:
    """Executions, newest first."""
    query = select(Execution).options(selectinload(Execution.steps)).order_by(
        Execution.created_at.desc(), Execution.run.desc())
    if pipeline_id:
        query = query.where(Execution.pipeline_id == pipeline_id)
    if state:
        query = query.where(Execution.state == state)
    return list(session.scalars(query.limit(limit)))


def step(session: Session, execution_id: str, stage: int, step: int) -> StepState:
    """One step's state row. :raise NotFound:"""
    if not (0 <= stage < 2**31 and 0 <= step < 2**31):  # beyond any column's range
        raise NotFound(f"execution {execution_id} has no step {stage}-{step}")
    state = session.get(StepState, (execution_id, stage, step))
    if state is None:
        raise NotFound(f"execution {execution_id} has no step {stage}-{step}")
    return state


def context_of(execution: Execution, pipeline: Pipeline) -> RenderContext:
    """The render context of an execution."""
    return RenderContext(pipeline_id=pipeline.id, execution_id=execution.id, run=execution.run,
                         branch=execution.branch, event=execution.event,
                         commit=execution.commit, ref=execution.ref,
                         git_url=pipeline.repository_url, trigger_type=execution.trigger_type,
                         project=pipeline.project)


def model_of(execution: Execution) -> PipelineModel:
    """The pipeline model of an execution's config snapshot."""
    return config.parse_pipeline(execution.config_snapshot, "config")


def view(execution: Execution, *, jenkins_url: str = "", steps: Sequence[Any] | None = None,
         deliveries: Sequence[Any] | None = None) -> dict[str, Any]:
    """What the native API shows of an execution; jenkins_url: where Jenkins is, if known.

    steps, deliveries: its step states and notification deliveries when read already (as
    rows with the same names, ordered as the relationships are); else the relationships.
    """
    steps = execution.steps if steps is None else steps
    deliveries = execution.notifications if deliveries is None else deliveries
    return {
        "id": execution.id, "pipelineId": execution.pipeline_id, "run": execution.run,
        "state": execution.state, "reason": execution.reason,
        "triggerType": execution.trigger_type, "event": execution.event,
        "branch": execution.branch, "ref": execution.ref, "commit": execution.commit,
        "message": execution.message, "parameters": execution.parameters,
        "nodeName": execution.node_name, "placementNote": execution.placement_note or "",
        "cacheSlot": execution.cache_slot, "heldSince": _time(execution.held_since),
        "jenkins": {"job": execution.jenkins_job, "queueId": execution.jenkins_queue_id,
                    "build": execution.jenkins_build},
        "jenkinsBuildUrl": _build_url(execution, jenkins_url),
        "createdAt": _time(execution.created_at), "startedAt": _time(execution.started_at),
        "endedAt": _time(execution.ended_at),
        "steps": [{"stage": s.stage_index, "step": s.step_index, "stageName": s.stage_name,
                   "state": s.state, "startedAt": _time(s.started_at),
                   "endedAt": _time(s.ended_at)} for s in steps],
        "notifications": notifications.views(deliveries),
    }


def _build_url(execution: Execution, jenkins_url: str) -> str | None:
    """The Jenkins build's page, from the stored job and number (None before it exists)."""
    if not jenkins_url or not execution.jenkins_job or execution.jenkins_build is None:
        return None
    return build_url(jenkins_url, execution.jenkins_job, execution.jenkins_build)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _checked_event(request: TriggerRequest) -> TriggerRequest:
    """The request with a known event that fits its ref; a tag without a ref gets its tag ref.

    Whether a run is trusted follows from the event and the ref (`sidecar.config.trust`),
    so neither may be anything the sidecar does not understand; branch, ref and commit
    must fit their columns (`LIMITS`). :raise ConfigError:
    """
    problem = ref_problem(request.event, request.ref)
    if problem:
        raise ConfigError(Problem(problem, config_path="event"))
    if request.event == "tag" and not request.ref:
        request = replace(request, ref=TAG_PREFIX + request.branch)
    check_lengths(request)
    return request


def _parameters(model: PipelineModel, given: Mapping[str, Any]) -> dict[str, str]:
    """Given build parameters checked against the config's, defaults filled in."""
    declared = {p.name: p for p in model.parameters}
    problems = [Problem(f"unknown parameter '{name}'", config_path=f"parameters.{name}")
                for name in given if name not in declared]
    values: dict[str, str] = {}
    for name, parameter in declared.items():
        value = given.get(name, parameter.default)
        if parameter.type == "boolean":
            value = "true" if value in (True, "true") else "false"
        value = str(value)
        if parameter.type == "choice" and value not in parameter.choices:
            problems.append(Problem(f"'{value}' is not one of {', '.join(parameter.choices)}",
                                    config_path=f"parameters.{name}"))
        values[name] = value
    if problems:
        raise ConfigError(problems)
    return values
