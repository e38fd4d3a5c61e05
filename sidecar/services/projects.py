"""Per-project settings (DESIGN §6): stored values over the 'default' project's, over built-ins."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar.cache.volumes import root_problem
from sidecar.config import secrets
from sidecar.config.inputs import ProjectSettings, from_located
from sidecar.config.loader import Located, load_text
from sidecar.errors import ConfigError, Problem
from sidecar.services.access import Forbidden
from sidecar.store.models import Setting

DEFAULT_PROJECT = "default"
# What a project's runs may reach beyond the project: Secrets and service accounts in the
# agent namespace every team shares, its share of the executors, the nodes' filesystem.
# The platform sets them; a project's own write token must not widen them (DESIGN §10).
OPERATOR_SETTINGS = ("secrets", "serviceAccount", "executorQuota", "cacheDir")


def project_settings(session: Session, project: str) -> ProjectSettings:
    """The effective settings of a project."""
    rows = session.scalars(select(Setting).where(Setting.project.in_([DEFAULT_PROJECT, project])))
    values: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: r.project != DEFAULT_PROJECT):
        values[row.name] = json.loads(row.value)
    return from_located(ProjectSettings, Located(values, f"settings of {project}"))


def update_settings(session: Session, project: str, values: dict[str, Any],
                    cache_root: str | None = None, operator: bool = True) -> ProjectSettings:
    """Store settings for a project (validated together with what it has); None removes one.

    cache_root: the operator's root that cacheDir must stay in (SIDECAR_CACHE_ROOT).
    operator: whether the caller may change OPERATOR_SETTINGS (a write token that sees
    every project); others may send them unchanged, as a GET returned them.
    :raise Forbidden: a caller that is not the operator changes one of them
    """
    current = {row.name: json.loads(row.value) for row in session.scalars(
        select(Setting).where(Setting.project == project))}
    if not operator:
        _refuse_operator_changes(session, project, current, values)
    merged = {**current, **{k: v for k, v in values.items() if v is not None}}
    for key in [k for k, v in values.items() if v is None]:
        merged.pop(key, None)
    checked = from_located(ProjectSettings, Located(merged, "settings"))  # raises ConfigError
    problem = cache_root and root_problem(checked.cache_dir, cache_root)
    if problem:
        raise ConfigError(Problem(problem, config_path="cacheDir"))
    for row in session.scalars(select(Setting).where(Setting.project == project)):
        session.delete(row)
    session.flush()
    session.add_all(Setting(project=project, name=key, value=json.dumps(value))
                    for key, value in merged.items())
    session.flush()
    return project_settings(session, project)


def _refuse_operator_changes(session: Session, project: str, stored: dict[str, Any],
                             values: dict[str, Any]) -> None:
    effective = settings_view(project_settings(session, project))
    changed = [key for key in OPERATOR_SETTINGS if key in values
               and values[key] != stored.get(key) and values[key] != _plain(effective[key])]
    if changed:
        raise Forbidden(f"{', '.join(changed)} of project {project} may be changed only with a "
                        "write token that sees every project")


def _plain(value: Any) -> Any:
    """A setting's value as JSON reads it back (tuples are lists)."""
    return list(value) if isinstance(value, tuple) else value


def settings_view(settings: ProjectSettings) -> dict[str, Any]:
    """Settings as the API shows them: the YAML keys."""
    return {f.metadata["key"]: getattr(settings, f.name) for f in dataclasses.fields(settings)}


def check_secrets(session: Session, project: str, text: str, file: str) -> None:
    """:raise ConfigError: the config names a Secret its project may not use (with where)"""
    problems = secrets.problems(load_text(text, file), project_settings(session, project).secrets)
    if problems:
        raise ConfigError(problems)
