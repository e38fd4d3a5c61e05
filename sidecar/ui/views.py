"""What the list pages show, read from the store in a few queries each.

Lists are paged in SQL and limited to the projects the user sees: the visible project
names are found first (a pipeline's project is a plain column) and the lists filter on
them, so a token of one project never even loads another project's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, load_only

from sidecar.config.schema import EVENTS
from sidecar.errors import ConfigError, Problem
from sidecar.services.access import Principal
from sidecar.store.models import EXECUTION_STATES, Approval, Execution, Pipeline, utcnow

PAGE = 25
TREND = 10
MAX_FILTER = 200
# How each state looks: a CSS name and a symbol (in common fonts, DejaVu included), always
# shown beside the state's name.
LOOK = {"Waiting": ("idle", "○"), "Queueing": ("idle", "◔"), "Building": ("running", "▶"),
        "Pending": ("paused", "‖"), "Success": ("success", "✓"), "Failed": ("failed", "✗"),
        "Aborted": ("aborted", "■"), "Denied": ("failed", "⊘"), "Timeout": ("failed", "◷"),
        "Skipped": ("skipped", "↷")}
LIST_COLUMNS = load_only(Execution.id, Execution.pipeline_id, Execution.project, Execution.run,
                         Execution.state, Execution.branch, Execution.event, Execution.commit,
                         Execution.trigger_type, Execution.triggered_by, Execution.created_at,
                         Execution.started_at, Execution.ended_at)


def look(state: str) -> tuple[str, str]:
    """(CSS name, symbol) of a state."""
    return LOOK.get(state, ("idle", "○"))


def duration(start: datetime | None, end: datetime | None) -> str:
    """'1 h 2 min', '3 min 4 s', '5 s'; running time until now when end is None; '–' unknown."""
    if start is None:
        return "–"
    seconds = max(int(((_aware(end) if end else utcnow()) - _aware(start)).total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def when(value: datetime | None) -> str:
    """A time as 'YYYY-MM-DD HH:MM:SS UTC'."""
    return _aware(value).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "–"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def visible_projects(session: Session, principal: Principal) -> list[str] | None:
    """The projects the user sees, or None when it sees them all."""
    if principal.sees_all:
        return None
    projects = session.scalars(select(Pipeline.project).distinct())
    return [project for project in projects if principal.sees(project)]


@dataclass(frozen=True)
class PipelineRow:
    """A pipeline with its newest runs, oldest first (the last one is the latest run)."""

    pipeline: Pipeline
    trend: list[Execution]

    @property
    def latest(self) -> Execution | None:
        """The newest run."""
        return self.trend[-1] if self.trend else None


def pipeline_rows(session: Session, principal: Principal, page: int) -> tuple[list[PipelineRow],
                                                                              bool]:
    """One page of the visible pipelines by id with their trends, and whether more follow."""
    query = select(Pipeline).order_by(Pipeline.id)
    projects = visible_projects(session, principal)
    if projects is not None:
        query = query.where(Pipeline.project.in_(projects))
    found = list(session.scalars(query.offset(page * PAGE).limit(PAGE + 1)))
    shown = found[:PAGE]
    wanted = [and_(Execution.pipeline_id == p.id, Execution.run >= p.next_run - TREND)
              for p in shown if p.next_run > 1]
    runs: dict[str, list[Execution]] = {}
    if wanted:
        for execution in session.scalars(select(Execution).options(LIST_COLUMNS)
                                         .where(or_(*wanted)).order_by(Execution.run)):
            runs.setdefault(execution.pipeline_id, []).append(execution)
    return [PipelineRow(p, runs.get(p.id, [])) for p in shown], len(found) > PAGE


@dataclass(frozen=True)
class RunFilter:
    """What the runs list is filtered by; empty fields filter nothing."""

    branch: str = ""
    state: str = ""
    event: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> RunFilter:
        """The filter of a query string. :raise ConfigError: unknown state or event"""
        found = cls(branch=args.get("branch", "").strip()[:MAX_FILTER],
                    state=args.get("state", ""), event=args.get("event", ""))
        problems = []
        if found.state and found.state not in EXECUTION_STATES:
            problems.append(Problem(f"state must be one of {', '.join(EXECUTION_STATES)}"))
        if found.event and found.event not in EVENTS:
            problems.append(Problem(f"event must be one of {', '.join(EVENTS)}"))
        if problems:
            raise ConfigError(problems)
        return found

    def args(self) -> dict[str, str]:
        """The non-empty fields, for links that keep the filter."""
        return {k: v for k, v in vars(self).items() if v}


@dataclass(frozen=True)
class RunsPage:
    """Runs newest first; `newer` and `older` are the run numbers to page on from, if any."""

    runs: list[Execution]
    newer: int | None
    older: int | None


def runs_page(session: Session, pipeline_id: str, run_filter: RunFilter, *,
              before: int | None = None, after: int | None = None) -> RunsPage:
    """A page of a pipeline's runs by run number (keyset paging on the unique index)."""
    where = [Execution.pipeline_id == pipeline_id]
    where += [column == value for column, value in ((Execution.branch, run_filter.branch),
                                                    (Execution.state, run_filter.state),
                                                    (Execution.event, run_filter.event))
              if value]
    query = select(Execution).options(LIST_COLUMNS).where(*where)
    if after is not None:
        runs = list(reversed(session.scalars(query.where(Execution.run > after)
                                              .order_by(Execution.run).limit(PAGE)).all()))
    else:
        if before is not None:
            query = query.where(Execution.run < before)
        runs = list(session.scalars(query.order_by(Execution.run.desc()).limit(PAGE)))
    if not runs:
        return RunsPage([], None, None)
    newest, oldest = runs[0].run, runs[-1].run
    return RunsPage(runs, newest if _exists(session, *where, Execution.run > newest) else None,
                    oldest if _exists(session, *where, Execution.run < oldest) else None)


def _exists(session: Session, *where) -> bool:
    return session.scalars(select(Execution.run).where(*where).limit(1)).first() is not None


def approvals_page(session: Session, principal: Principal, state: str,
                   limit: int = 100) -> list[tuple[Approval, Execution]]:
    """Approvals in the visible projects with their runs, newest first."""
    query = select(Approval, Execution).join(Execution, Execution.id == Approval.execution_id) \
        .options(load_only(Execution.id, Execution.pipeline_id, Execution.project,
                           Execution.run, Execution.state)) \
        .order_by(Approval.created_at.desc(), Approval.id.desc())
    if state:
        query = query.where(Approval.state == state)
    projects = visible_projects(session, principal)
    if projects is not None:
        query = query.where(Execution.project.in_(projects))
    return [(approval, execution) for approval, execution in session.execute(query.limit(limit))]


def parameter_values(definitions: list[dict[str, Any]], form: Mapping[str, str],
                     prefix: str = "p:") -> dict[str, Any]:
    """Values of an approval's or a pipeline's parameters from a form (unchecked box: false)."""
    values: dict[str, Any] = {}
    for definition in definitions:
        name = definition["name"]
        if definition["type"] == "boolean":
            values[name] = "true" if form.get(prefix + name) else "false"
        elif prefix + name in form:
            values[name] = form[prefix + name]
    return values
