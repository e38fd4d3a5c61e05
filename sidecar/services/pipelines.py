"""Create, change, list and remove pipelines; their inline configs are validated on the way in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar import config
from sidecar.config import secrets
from sidecar.errors import ConfigError, Problem, SidecarError
from sidecar.services import notifications, projects, retention
from sidecar.services import triggers as webhook_triggers
from sidecar.store import scope
from sidecar.store.models import END_STATES, Execution, Pipeline, ScheduledInfo

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
FIELDS = {"repositoryUrl": "repository_url", "configPath": "config_path",
          "inlineConfig": "inline_config", "webhookSecret": "webhook_secret",
          "triggers": "triggers", "providerToken": "provider_token"}


class NotFound(SidecarError):
    """The requested object does not exist."""


class Conflict(SidecarError):
    """The object exists already."""


@dataclass(frozen=True)
class PipelineView:
    """What the API shows of a pipeline (never its webhook secret or provider token)."""

    id: str
    project: str
    name: str
    repositoryUrl: str
    configPath: str
    inlineConfig: str | None
    triggers: dict
    nextRun: int
    lastRunState: str | None
    hasWebhookSecret: bool
    hasProviderToken: bool


def view(pipeline: Pipeline) -> PipelineView:
    """The public view of a stored pipeline."""
    return PipelineView(pipeline.id, pipeline.project, pipeline.name, pipeline.repository_url,
                        pipeline.config_path, pipeline.inline_config, pipeline.triggers or {},
                        pipeline.next_run, pipeline.last_run_state, bool(pipeline.webhook_secret),
                        bool(pipeline.provider_token))


def create(session: Session, body: dict[str, Any], *, check_notifiers: bool = True) -> Pipeline:
    """Store a new pipeline; raise ConfigError for bad fields, Conflict when it exists.

    A recipient must name a notifier of the project (not checked for the examples).
    """
    project, name = body.get("project", "default"), body.get("name")
    problems = [Problem(f"{key} must be lowercase letters, digits and '-' (at most 63)")
                for key, value in (("project", project), ("name", name))
                if not isinstance(value, str) or not NAME.match(value)]
    problems += _field_problems(body, allowed={"project", "name", *FIELDS})
    if problems:
        raise ConfigError(problems)
    visible_project(session, project)
    pipeline_id = f"{project}:{name}"
    if session.get(Pipeline, pipeline_id) is not None:
        raise Conflict(f"pipeline {pipeline_id} exists already")
    pipeline = Pipeline(id=pipeline_id, project=project, name=name)
    if check_notifiers:
        _check_names(session, project, body)
    _apply(pipeline, body)
    session.add(pipeline)
    session.flush()
    return pipeline


def update(session: Session, pipeline_id: str, body: dict[str, Any]) -> Pipeline:
    """Change a pipeline's source and trigger fields."""
    pipeline = get(session, pipeline_id)
    problems = _field_problems(body, allowed=set(FIELDS))
    if problems:
        raise ConfigError(problems)
    _check_names(session, pipeline.project, body)
    _apply(pipeline, body)
    return pipeline


def get(session: Session, pipeline_id: str) -> Pipeline:
    """A pipeline by id. :raise NotFound: when there is none."""
    pipeline = session.get(Pipeline, pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id} not found")
    return pipeline


def visible_project(session: Session, project: str) -> str:
    """The project, when the session may see it. :raise NotFound: as for a missing object."""
    if not scope.allows(session, project):
        raise NotFound(f"project {project} not found")
    return project


def listing(session: Session, project: str | None = None) -> list[Pipeline]:
    """Pipelines, optionally of one project, by id."""
    query = select(Pipeline).order_by(Pipeline.id)
    if project:
        query = query.where(Pipeline.project == project)
    return list(session.scalars(query))


def history(session: Session, pipeline_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Where the pipeline's executions ran, newest first: the history behind node affinity."""
    get(session, pipeline_id)
    rows = session.scalars(select(ScheduledInfo).where(ScheduledInfo.pipeline_id == pipeline_id)
                           .order_by(ScheduledInfo.created_at.desc()).limit(limit))
    return [{"executionId": row.execution_id, "nodeName": row.node_name, "source": row.source,
             "createdAt": row.created_at.isoformat()} for row in rows]


def delete(session: Session, pipeline_id: str, *, history: bool = False) -> int:
    """Remove a pipeline; with history, its finished executions too (and every row that
    refers to one, its node history included). Returns how many executions went.

    The pipeline row is locked first, so no trigger adds a run meanwhile. Node cache
    reports stay: they describe directories still on the nodes, which `cache gc` ages
    out (a pipeline created again under the same name finds them warm, rightly).
    :raise Conflict: executions exist without history, or one has not finished
    """
    get(session, pipeline_id)
    session.scalar(select(Pipeline.id).where(Pipeline.id == pipeline_id).with_for_update())
    states = session.scalars(select(Execution.state)
                             .where(Execution.pipeline_id == pipeline_id)).all()
    if states and not history:
        raise Conflict(f"pipeline {pipeline_id} has {len(states)} executions; delete with "
                       "?history=true to remove them with it")
    unfinished = sum(1 for state in states if state not in END_STATES)
    if unfinished:
        raise Conflict(f"pipeline {pipeline_id} has {unfinished} executions that have not "
                       "finished; stop them first")
    ids = list(session.scalars(select(Execution.id).where(Execution.pipeline_id == pipeline_id)))
    discarded = retention.discard(session, ids)
    session.execute(sql_delete(Pipeline).where(Pipeline.id == pipeline_id))
    session.expire_all()
    return discarded


def load_examples(session: Session, directory: Path) -> int:
    """Store every example config of a directory as an inline pipeline; returns how many."""
    count, named = 0, set(projects.project_settings(session, "examples").secrets)
    for path in sorted(directory.glob("*.yml")):
        if path.name == "context.yml" or session.get(Pipeline, f"examples:{path.stem}"):
            continue
        text = path.read_text(encoding="utf-8")
        create(session, {"project": "examples", "name": path.stem, "inlineConfig": text},
               check_notifiers=False)
        # The operator chose the directory: its configs' Secrets are the demo's allow-list.
        named |= {name for name, _ in secrets.references(config.load_text(text, path.name))
                  if not secrets.reserved(name)}
        count += 1
    if named:
        projects.update_settings(session, "examples", {"secrets": sorted(named)})
    return count


def _field_problems(body: dict[str, Any], *, allowed: set[str]) -> list[Problem]:
    problems = [Problem(f"unknown field '{key}'") for key in body if key not in allowed]
    for key in ("repositoryUrl", "configPath", "inlineConfig", "webhookSecret", "providerToken"):
        if key in body and not isinstance(body[key], (str, type(None))):
            problems.append(Problem(f"{key} must be a string"))
    if "triggers" in body:
        problems += webhook_triggers.problems(body["triggers"])
    if isinstance(body.get("inlineConfig"), str):
        try:
            config.parse_pipeline(body["inlineConfig"], "inlineConfig")
        except ConfigError as exc:
            problems += exc.problems
    return problems


def _check_names(session: Session, project: str, body: dict[str, Any]) -> None:
    """:raise ConfigError: the inline config names a Secret or a notifier the project lacks"""
    text = body.get("inlineConfig")
    if isinstance(text, str):
        projects.check_secrets(session, project, text, "inlineConfig")
        notification = config.parse_pipeline(text, "inlineConfig").notification
        notifications.check_recipients(session, project, text, "inlineConfig", notification)


def _apply(pipeline: Pipeline, body: dict[str, Any]) -> None:
    for key, attribute in FIELDS.items():
        if key in body:
            setattr(pipeline, attribute, body[key] if body[key] is not None else
                    (None if key == "inlineConfig" else ""))
