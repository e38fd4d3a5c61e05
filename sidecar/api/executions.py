"""Native API for executions and project settings."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from sidecar.api.auth import current_principal
from sidecar.api.conditional import final
from sidecar.api.context import caller_session, json_body, sidecar
from sidecar.errors import ConfigError, Problem
from sidecar.readmodel import logs
from sidecar.readmodel import executions as native
from sidecar.services import bounded, executions, pipelines, projects, repoconfig
from sidecar.store.models import END_STATES

bp = Blueprint("executions", __name__, url_prefix="/api/v1")
_TRIGGER_FIELDS = {"event", "branch", "ref", "commit", "message", "parameters", "config"}


@bp.post("/pipelines/<pipeline_id>/executions")
def trigger(pipeline_id: str):
    """Start a run: {branch, commit, ref, event, message, parameters, config?}.

    :raise 400: bad fields; :raise 404: no such pipeline; :raise 409: branch filtered out
    """
    body = json_body()
    problems = [Problem(f"unknown field '{k}'") for k in sorted(set(body) - _TRIGGER_FIELDS)]
    if not isinstance(body.get("parameters", {}), dict):
        problems.append(Problem("parameters must be an object"))
    if not isinstance(body.get("config", ""), str):
        problems.append(Problem("config must be a YAML text"))
    if problems:
        raise ConfigError(problems)
    trigger_request = executions.TriggerRequest(
        event=str(body.get("event", "manual")), branch=str(body.get("branch", "main")),
        ref=str(body.get("ref", "")), commit=str(body.get("commit", "")),
        message=str(body.get("message", "")), parameters=body.get("parameters", {}),
        config_text=body.get("config"))
    with caller_session() as session:  # the repository's config is read outside the trigger
        source = repoconfig.source_of(session, pipeline_id)
    trigger_request = repoconfig.filled(trigger_request, source, sidecar().outbound)
    with caller_session() as session:
        execution = executions.trigger(session, pipeline_id, trigger_request)
        return jsonify(_view(execution)), 201


@bp.get("/executions")
def list_executions():
    """Executions, newest first (?pipeline=, ?state=, ?limit=, ?cursor=).

    A full page links the next one (``Link: <…cursor=…>; rel="next"``): the page after
    its last execution, however many runs were triggered in between.
    """
    limit = bounded.integer(request.args.get("limit", "100"), "limit", 1, 1000)
    with caller_session() as session:
        found = native.page(session, pipeline_id=request.args.get("pipeline"),
                            state=request.args.get("state"), limit=limit,
                            cursor=request.args.get("cursor"))
        response = jsonify([_view(item.execution, steps=item.steps,
                                  deliveries=item.deliveries) for item in found])
        if len(found) == limit:
            others = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
            query = urlencode([*others, ("cursor", native.cursor_after(found[-1].execution))])
            response.headers["Link"] = f'<{request.path}?{query}>; rel="next"'
        return response


@bp.get("/executions/<execution_id>")
def get_execution(execution_id: str):
    """One execution with its steps. :raise 404:"""
    with caller_session() as session:
        execution = native.detail(session, execution_id)
        return final(jsonify(_view(execution)), execution.state in END_STATES)


@bp.post("/executions/<execution_id>/stop")
def stop(execution_id: str):
    """Stop a run. :raise 404: unknown; :raise 409: already ended"""
    with caller_session() as session:
        return jsonify(_view(executions.request_stop(session, execution_id)))


@bp.post("/executions/<execution_id>/rerun")
def rerun(execution_id: str):
    """A new run with the same config, commit and parameters. :raise 404:"""
    with caller_session() as session:
        return jsonify(_view(executions.rerun(session, execution_id))), 201


@bp.get("/executions/<execution_id>/steps/<int:stage>/<int:step>/log")
def step_log(execution_id: str, stage: int, step: int):
    """A step's log from byte ``start`` (default 0): live from Jenkins while it runs, then archived.

    X-Text-Size is where to continue, X-More-Data: true while more may come (as Jenkins'
    progressive text), X-Log-Complete whether the step has ended. The live log is cut
    after its last whole line and is a prefix of the archive, so offsets carry over.
    """
    start = bounded.integer(request.args.get("start", "0"), "start", 0, 2**31)
    with caller_session() as session:
        execution = executions.get(session, execution_id)
        row = executions.step(session, execution_id, stage, step)
        read = logs.step_log(session, execution, row, sidecar().jenkins, start)
    logs.remember(sidecar().store.engine, read.marks)
    part = logs.window(read, start)
    headers = {"Content-Type": "text/plain; charset=utf-8", "X-Text-Size": str(part.size),
               "X-Log-Complete": "true" if read.complete else "false"}
    if part.more:
        headers["X-More-Data"] = "true"
    return final(Response(part.body, headers=headers), read.complete)


def _view(execution, **read) -> dict:
    return executions.view(execution, jenkins_url=sidecar().settings.jenkins_url, **read)


@bp.get("/settings/<project>")
def get_settings(project: str):
    """A project's effective settings."""
    with caller_session() as session:
        pipelines.visible_project(session, project)
        return jsonify(projects.settings_view(projects.project_settings(session, project)))


@bp.put("/settings/<project>")
def put_settings(project: str):
    """Change a project's settings (null removes one). :raise 400, 403:"""
    body = json_body()
    with caller_session() as session:
        pipelines.visible_project(session, project)
        caller = current_principal()
        return jsonify(projects.settings_view(projects.update_settings(
            session, project, body, cache_root=sidecar().settings.cache_root,
            operator=caller.can_write and caller.sees_all)))
