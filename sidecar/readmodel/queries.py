"""The store reads behind the Blue Ocean API: paged in SQL, no query per row.

Runs of a pipeline are read newest first by the unique (pipeline_id, run) index; a
run's steps come in one extra query (selectinload); a page of pipelines finds the
latest run of each in one query, since a pipeline's newest run is ``next_run - 1``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session, defer, joinedload, load_only, selectinload

from sidecar import config
from sidecar.config.model import Parameter
from sidecar.errors import SidecarError
from sidecar.services import bounded
from sidecar.services.pipelines import NotFound
from sidecar.store.models import Approval, Execution, ExecutionCommit, Pipeline

# What a run document reads: never the rendered Jenkinsfile, pod YAML or config snapshot,
# which can be hundreds of KB per run; its change set in one more query per page.
RUN_COLUMNS = (load_only(
    Execution.id, Execution.pipeline_id, Execution.run, Execution.state,
    Execution.jenkins_build, Execution.trigger_type, Execution.triggered_by,
    Execution.replay_of, Execution.commit, Execution.created_at, Execution.started_at,
    Execution.ended_at), selectinload(Execution.commits))


# What a step's log reads of its run: the steps (their ids come from the run's shape) and
# where Jenkins has it; not the config snapshot, the pipeline or the approvals.
LOG_COLUMNS = (load_only(Execution.id, Execution.pipeline_id, Execution.run, Execution.state,
                         Execution.jenkins_job, Execution.jenkins_build),
               selectinload(Execution.steps))

AUTHOR_ROWS = 100  # commits looked at to find an author in a project the caller sees


def pipelines_page(session: Session, start: int, limit: int, *, named: str | None = None
                   ) -> list[tuple[Pipeline, Execution | None]]:
    """A page of pipelines by id, each with its newest run; named: a Blue Ocean glob."""
    query = select(Pipeline)
    if named is not None:
        query = query.where(_named(named))
    page = list(session.scalars(query.order_by(Pipeline.id).offset(start).limit(limit)))
    latest = latest_runs(session, page)
    return [(pipeline, latest.get(pipeline.id)) for pipeline in page]


def _named(pattern: str):
    """Blue Ocean's search: a glob over the full name, without case; no '*': exact."""
    full_name = literal("sidecar.") + Pipeline.project + literal(".") + Pipeline.name
    if "*" not in pattern:
        return full_name == pattern
    like = re.sub(r"([\\%_])", r"\\\1", pattern.lower()).replace("*", "%").replace("?", "_")
    return func.lower(full_name).like(like, escape="\\")


def latest_runs(session: Session, pipelines: list[Pipeline]) -> dict[str, Execution]:
    """The newest run of each pipeline that has one, in one query."""
    wanted = [and_(Execution.pipeline_id == p.id, Execution.run == p.next_run - 1)
              for p in pipelines if p.next_run > 1]
    if not wanted:
        return {}
    query = select(Execution).options(*RUN_COLUMNS).where(or_(*wanted))
    return {e.pipeline_id: e for e in session.scalars(query)}


def pipeline(session: Session, pipeline_id: str) -> Pipeline:
    """A pipeline. :raise NotFound:"""
    found = session.get(Pipeline, pipeline_id)
    if found is None:
        raise NotFound(f"Pipeline {pipeline_id} not found")
    return found


def run(session: Session, pipeline_id: str, number: str, *, steps: bool = False,
        log: bool = False) -> Execution:
    """One run by its number, optionally with its steps and pipeline, or what a step log
    needs (`LOG_COLUMNS`). :raise NotFound:"""
    query = select(Execution).where(Execution.pipeline_id == pipeline_id,
                                    Execution.run == run_number(pipeline_id, number))
    if log:
        query = query.options(*LOG_COLUMNS)
    elif steps:  # the graph also reads the config snapshot (what each step runs)
        query = query.options(selectinload(Execution.steps), joinedload(Execution.pipeline),
                              defer(Execution.jenkinsfile), defer(Execution.pod_yaml))
    else:
        query = query.options(*RUN_COLUMNS)
    found = session.scalars(query).first()
    if found is None:
        raise NotFound(f"Run {number} not found in pipeline {pipeline_id}")
    return found


def run_number(pipeline_id: str, number: str) -> int:
    """A run number from a URL part. :raise NotFound: not a number a run can have"""
    if not bounded.digits(number) or int(number) >= 2**31:
        raise NotFound(f"Run {number} not found in pipeline {pipeline_id}")
    return int(number)


def queued_runs(session: Session, pipeline_id: str) -> list[Execution]:
    """The pipeline's runs that wait for Jenkins, newest first: its Blue Ocean queue."""
    waiting = or_(Execution.state.in_(("Waiting", "Queueing")),
                  and_(Execution.state == "Building", Execution.jenkins_build.is_(None)))
    return list(session.scalars(select(Execution).options(*RUN_COLUMNS)
                                .where(Execution.pipeline_id == pipeline_id, waiting)
                                .order_by(Execution.run.desc())))


def runs_with_steps(session: Session, pipeline_id: str, start: int,
                    limit: int) -> list[Execution]:
    """A page of runs with their steps (for per-run node figures), newest first."""
    return list(session.scalars(select(Execution).options(
        load_only(Execution.id, Execution.pipeline_id, Execution.run, Execution.state),
        selectinload(Execution.steps)).where(Execution.pipeline_id == pipeline_id)
        .order_by(Execution.run.desc()).offset(start).limit(limit)))


def commit_author(session: Session, author_id: str,
                  visible: Callable[[str], bool]) -> ExecutionCommit | None:
    """The newest delivered commit by author_id in a project visible() accepts, or None."""
    rows = session.execute(
        select(ExecutionCommit, Execution.project)
        .join(Execution, Execution.id == ExecutionCommit.execution_id)
        .where(ExecutionCommit.author_id == author_id)
        .order_by(ExecutionCommit.timestamp.desc()).limit(AUTHOR_ROWS))
    return next((commit for commit, project in rows if visible(project)), None)


def pending_approvals(session: Session, execution_id: str) -> dict[tuple[int, int], Approval]:
    """The run's approvals still waiting for a decision, by (stage, step)."""
    rows = session.scalars(select(Approval).where(Approval.execution_id == execution_id,
                                                  Approval.state == "Pending"))
    return {(row.stage_index, row.step_index): row for row in rows}


def declared_parameters(pipeline: Pipeline) -> tuple[Parameter, ...]:
    """The build parameters of a pipeline's inline config (none when it has none)."""
    return _parameters(pipeline.inline_config or "")


@lru_cache(maxsize=512)
def _parameters(text: str) -> tuple[Parameter, ...]:
    if not text:
        return ()
    try:
        return tuple(config.parse_pipeline(text, "config").parameters)
    except SidecarError:  # a stored config is validated on the way in; stay safe anyway
        return ()
