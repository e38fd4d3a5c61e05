"""Sessions that see only some projects: every ORM statement filtered in SQL.

An API caller may be limited to projects matching a few globs (``team-a``, ``shop-*``).
Rather than checking each object after loading it, a session marked with
:func:`restrict` adds the matching condition to every ORM SELECT, UPDATE and DELETE it
runs (``with_loader_criteria``), for every table that belongs to a project. So a
look-up of another project's pipeline, run or approval finds nothing — the same answer,
from the same query, as for one that does not exist — and lists page correctly,
because the filter is part of the SQL that pages them.

Globs use only ``*`` and ``?`` over project names (lowercase letters, digits and ``-``),
so they translate to ``LIKE`` patterns without escaping and mean the same in SQLite and
PostgreSQL. Each table is matched by its project column or by an id that starts with
``<project>:`` (pipeline ids; execution ids are ``<pipeline id>-<run>``).
"""

from __future__ import annotations

import re

from sqlalchemy import event, false, or_
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from sidecar.store.models import (Approval, Execution, ExecutionCommit, LiveLogMark, LogChunk,
                                  NodeCache, Pipeline, RunDocument, ScheduledInfo, StepState)

GLOB = re.compile(r"^[a-z0-9*?-]{1,100}$")
"""What a project glob may contain: project-name characters, ``*`` and ``?``."""
_KEY = "sidecar.projects"

# Each scoped table and how a row names its project.
_BY_PROJECT = ((Pipeline, lambda: Pipeline.project), (Execution, lambda: Execution.project))
_BY_ID = ((Approval, lambda: Approval.execution_id), (StepState, lambda: StepState.execution_id),
          (LogChunk, lambda: LogChunk.execution_id),
          (LiveLogMark, lambda: LiveLogMark.execution_id),
          (ExecutionCommit, lambda: ExecutionCommit.execution_id),
          (RunDocument, lambda: RunDocument.execution_id),
          (ScheduledInfo, lambda: ScheduledInfo.pipeline_id),
          (NodeCache, lambda: NodeCache.pipeline_id))


def restrict(session: Session, globs: tuple[str, ...] | None) -> Session:
    """Limit the session to projects matching globs; None (or ``*``) leaves it whole."""
    if globs is not None and "*" not in globs:
        bad = [g for g in globs if not GLOB.match(g)]
        if bad:
            raise ValueError(f"not a project glob: {bad[0]!r}")
        session.info[_KEY] = tuple(globs)
    return session


def unrestricted(session: Session) -> bool:
    """True when the session sees every project (its statements get no criteria)."""
    return session.info.get(_KEY) is None


def allows(session: Session, project: str) -> bool:
    """True when the session may see the project."""
    globs = session.info.get(_KEY)
    return globs is None or matches(globs, project)


def matches(globs: tuple[str, ...], project: str) -> bool:
    """True when a glob matches the project, exactly as the SQL filter decides."""
    return any(g == "*" or re.fullmatch(re.escape(g).replace(r"\*", ".*").replace(r"\?", "."),
                                        project) for g in globs)


def like(glob: str) -> str:
    """The LIKE pattern of a project glob."""
    return glob.replace("*", "%").replace("?", "_")


@event.listens_for(Session, "do_orm_execute")
def _filter(state: ORMExecuteState) -> None:
    globs = state.session.info.get(_KEY)
    if globs is None or state.is_column_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    options = [with_loader_criteria(model, _matching([column().like(like(g)) for g in globs]),
                                    include_aliases=True)
               for model, column in _BY_PROJECT]
    options += [with_loader_criteria(model, _matching([column().like(like(g) + ":%")
                                                       for g in globs]), include_aliases=True)
                for model, column in _BY_ID]
    state.statement = state.statement.options(*options)


def _matching(conditions: list):
    return or_(*conditions) if conditions else false()
