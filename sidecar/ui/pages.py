"""Pipelines, a pipeline's runs, a run (graph, live log) and the run controls."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for

from sidecar.config.schema import EVENTS
from sidecar.errors import ConfigError, Problem
from sidecar.jenkins import build_url
from sidecar.readmodel import queries
from sidecar.readmodel.logs import remember as remember_marks
from sidecar.scm import ScmError
from sidecar.services import executions, pipelines, repoconfig
from sidecar.services.pipelines import Conflict, NotFound
from sidecar.store.models import EXECUTION_STATES, StepState
from sidecar.ui import graph, logs, views
from sidecar.ui.base import bp, principal, require_visible, require_write, sidecar

MAX_FIELD = 500


@bp.context_processor
def _helpers():
    return {"look": views.look, "duration": views.duration, "when": views.when}


@bp.get("/")
def pipelines_list():
    """Every visible pipeline with its latest run and trend."""
    page = _arg("page", 0)
    with sidecar().store.session() as session:
        rows, more = views.pipeline_rows(session, principal(), page)
        return render_template("ui/pipelines.html", rows=rows, page=page, more=more)


@bp.get("/pipelines/<pipeline_id>")
def pipeline(pipeline_id: str):
    """A pipeline's runs (paged, filtered) and the form that starts one."""
    run_filter = views.RunFilter.from_args(request.args)
    before, after = _arg("before"), _arg("after")
    with sidecar().store.session() as session:
        found = _pipeline(session, pipeline_id)
        runs = views.runs_page(session, pipeline_id, run_filter, before=before, after=after)
        preset = _preset(session, pipeline_id, request.args.get("from"))
        return _pipeline_page(found, runs, run_filter, preset)


@bp.post("/pipelines/<pipeline_id>/runs")
def trigger(pipeline_id: str):
    """Start a run with the form's branch and parameters; a refused start shows the form again."""
    require_write()
    branch = request.form.get("branch", "").strip()[:MAX_FIELD] or "main"
    values: dict[str, str] = {}
    try:
        with sidecar().store.session() as session:
            declared = queries.declared_parameters(_pipeline(session, pipeline_id))
            values = views.parameter_values([{"name": p.name, "type": p.type} for p in declared],
                                            request.form)
            source = repoconfig.source_of(session, pipeline_id)
        wanted = repoconfig.filled(executions.TriggerRequest(
            trigger_type="user", branch=branch, parameters=values), source, sidecar().outbound)
        with sidecar().store.session() as session:  # the config was read outside the trigger
            execution = executions.trigger(session, pipeline_id, wanted)
            execution.triggered_by = principal().user
            return redirect(url_for("ui.run", pipeline_id=pipeline_id, number=execution.run),
                            code=303)
    except (ConfigError, Conflict, ScmError) as exc:  # rolled back: no run number used up
        error = exc
    with sidecar().store.session() as session:
        found = _pipeline(session, pipeline_id)
        runs = views.runs_page(session, pipeline_id, views.RunFilter())
        return _pipeline_page(found, runs, views.RunFilter(), {"branch": branch, **values},
                              error), 400


def _pipeline_page(found, runs: views.RunsPage, run_filter: views.RunFilter,
                   preset: dict[str, str], error: Exception | None = None) -> str:
    return render_template("ui/pipeline.html", pipeline=found, runs=runs, filter=run_filter,
                           states=EXECUTION_STATES, events=EVENTS, preset=preset, error=error,
                           parameters=queries.declared_parameters(found))


@bp.get("/pipelines/<pipeline_id>/runs/<int:number>")
def run(pipeline_id: str, number: int):
    """A run: summary, stage graph, the chosen step's log, parameters and config."""
    with sidecar().store.session() as session:
        view = _run_view(session, pipeline_id, number)
        chosen = view.step(request.args.get("step"))
        log_page = None
        if chosen is not None:
            row = session.get(StepState, (view.execution.id, chosen.stage, chosen.step))
            log_page = logs.page(session, view.execution, row, None, live=False)
        return render_template("ui/run.html", view=view, chosen=chosen, log=log_page,
                               jenkins_link=_jenkins_link(view.execution))


@bp.get("/pipelines/<pipeline_id>/runs/<int:number>/live")
def run_live(pipeline_id: str, number: int):
    """The parts of the run page that change while it runs (fetched by the page's script)."""
    with sidecar().store.session() as session:
        view = _run_view(session, pipeline_id, number)
        return render_template("ui/_run_live.html", view=view,
                               chosen=view.step(request.args.get("step")),
                               jenkins_link=_jenkins_link(view.execution))


@bp.get("/pipelines/<pipeline_id>/runs/<int:number>/steps/<int:stage>/<int:step>/log")
def step_log(pipeline_id: str, number: int, stage: int, step: int):
    """One page of a step's log as JSON: from ?start=, or up to ?before= (default: the end)."""
    start, before = _arg("start"), _arg("before")
    with sidecar().store.session() as session:
        execution = _visible_run(session, pipeline_id, number)
        row = session.get(StepState, (execution.id, stage, step)) \
            if stage < 2**31 and step < 2**31 else None
        if row is None:
            raise NotFound(f"step {stage}.{step} not found")
        found = logs.page(session, execution, row, sidecar().jenkins, start=start,
                          before=before)
    remember_marks(sidecar().store.engine, found.marks)
    return jsonify(found.as_json())


@bp.post("/pipelines/<pipeline_id>/runs/<int:number>/stop")
def stop(pipeline_id: str, number: int):
    """Stop a run (one not started yet ends at once; the engine stops one that runs)."""
    require_write()
    with sidecar().store.session() as session:
        executions.request_stop(session, _visible_run(session, pipeline_id, number).id)
    return redirect(url_for("ui.run", pipeline_id=pipeline_id, number=number), code=303)


@bp.post("/pipelines/<pipeline_id>/runs/<int:number>/rerun")
def rerun(pipeline_id: str, number: int):
    """A new run with the same config, commit and parameters."""
    require_write()
    with sidecar().store.session() as session:
        new = executions.rerun(session, _visible_run(session, pipeline_id, number).id)
        new.triggered_by = principal().user
        return redirect(url_for("ui.run", pipeline_id=pipeline_id, number=new.run), code=303)


@bp.route("/<path:_unknown>", methods=["GET", "POST"])
def unknown(_unknown: str):
    """Any other path under /ui/ is a missing page, shown as one."""
    raise NotFound("there is no such page")


def _pipeline(session, pipeline_id: str):
    found = pipelines.get(session, pipeline_id)
    require_visible(found.project, f"pipeline {pipeline_id}")
    return found


def _visible_run(session, pipeline_id: str, number: int):
    found = queries.run(session, pipeline_id, str(number))
    require_visible(found.project, f"run {number} of {pipeline_id}")
    return found


def _run_view(session, pipeline_id: str, number: int) -> graph.RunView:
    _visible_run(session, pipeline_id, number)
    return graph.run_view(session, pipeline_id, number)


def _preset(session, pipeline_id: str, number: str | None) -> dict[str, str]:
    """Branch and parameters of an earlier run, to start a new one like it."""
    if not number or not number.isdigit():
        return {}
    try:
        found = executions.get(session, f"{pipeline_id}-{int(number)}")
    except NotFound:
        return {}
    return {"branch": found.branch, **{k: str(v) for k, v in (found.parameters or {}).items()}}


def _jenkins_link(execution) -> str | None:
    base = sidecar().settings.jenkins_url
    if not base or not execution.jenkins_job or execution.jenkins_build is None:
        return None
    return build_url(base, execution.jenkins_job, execution.jenkins_build)


def _arg(name: str, default: int | None = None) -> int | None:
    """A whole-number query argument (at most 2**31, more than any run or log offset)."""
    value = request.args.get(name, "")
    if value == "":
        return default
    if not value.isdigit() or len(value) > 15:
        raise ConfigError(Problem(f"{name} must be a whole number"))
    return min(int(value), 2**31)
