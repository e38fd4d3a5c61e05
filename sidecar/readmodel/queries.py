"""The store reads behind the Blue Ocean API: paged in SQL, no query per row.

Runs of a pipeline are read newest first by the unique (pipeline_id, run) index; a
run's steps come in one extra query (selectinload); a page of pipelines finds the
latest run of each in one query, since a pipeline's newest run is ``next_run - 1``.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, defer, joinedload, load_only, selectinload

from sidecar import config
from sidecar.config.model import Parameter
from sidecar.errors import SidecarError
from sidecar.services.pipelines import NotFound
from sidecar.store.models import Approval, Execution, Pipeline

# What a run document reads: never the rendered Jenkinsfile, pod YAML or config snapshot,
# which can be hundreds of KB per run.
RUN_COLUMNS = load_only(
    Execution.id, Execution.pipeline_id, Execution.run, Execution.state,
    Execution.jenkins_build, Execution.trigger_type, Execution.triggered_by,
    Execution.replay_of, Execution.commit, Execution.created_at, Execution.started_at,
    Execution.ended_at)


def pipelines_page(session: Session, start: int,
                   limit: int) -> list[tuple[Pipeline, Execution | None]]:
    """A page of pipelines by id, each with its newest run."""
    page = list(session.scalars(select(Pipeline).order_by(Pipeline.id)
                                .offset(start).limit(limit)))
    latest = latest_runs(session, page)
    return [(pipeline, latest.get(pipeline.id)) for pipeline in page]


def latest_runs(session: Session, pipelines: list[Pipeline]) -> dict[str, Execution]:
    """The newest run of each pipeline that has one, in one query."""
    wanted = [and_(Execution.pipeline_id == p.id, Execution.run == p.next_run - 1)
              for p in pipelines if p.next_run > 1]
    if not wanted:
        return {}
    query = select(Execution).options(RUN_COLUMNS).where(or_(*wanted))
    return {e.pipeline_id: e for e in session.scalars(query)}


def pipeline(session: Session, pipeline_id: str) -> Pipeline:
    """A pipeline. :raise NotFound:"""
    found = session.get(Pipeline, pipeline_id)
    if found is None:
        raise NotFound(f"Pipeline {pipeline_id} not found")
    return found


def runs_page(session: Session, pipeline_id: str, start: int, limit: int) -> list[Execution]:
    """A page of a pipeline's runs, newest first (queued runs are the newest)."""
    return list(session.scalars(select(Execution).options(RUN_COLUMNS)
                                .where(Execution.pipeline_id == pipeline_id)
                                .order_by(Execution.run.desc()).offset(start).limit(limit)))


def run(session: Session, pipeline_id: str, number: str, *, steps: bool = False) -> Execution:
    """One run by its number, optionally with its steps and pipeline. :raise NotFound:"""
    if not number.isdigit() or int(number) >= 2**31:
        raise NotFound(f"Run {number} not found in pipeline {pipeline_id}")
    query = select(Execution).where(Execution.pipeline_id == pipeline_id,
                                    Execution.run == int(number))
    if steps:  # the graph also reads the config snapshot (what each step runs)
        query = query.options(selectinload(Execution.steps), joinedload(Execution.pipeline),
                              defer(Execution.jenkinsfile), defer(Execution.pod_yaml))
    else:
        query = query.options(RUN_COLUMNS)
    found = session.scalars(query).first()
    if found is None:
        raise NotFound(f"Run {number} not found in pipeline {pipeline_id}")
    return found


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
