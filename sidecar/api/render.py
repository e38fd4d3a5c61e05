"""Render and validate configs over HTTP, exactly as the CLI does; no Jenkins involved."""

from __future__ import annotations

from flask import Blueprint, jsonify

from sidecar import cache, config, render
from sidecar.api.context import json_body, sidecar
from sidecar.api.errors import problem_view
from sidecar.config.inputs import (HistoryEntry, ProjectSettings, RenderContext, from_located,
                                   history_from_located)
from sidecar.config.loader import load_text
from sidecar.config.schema import pipeline_schema
from sidecar.errors import ConfigError, Problem

bp = Blueprint("render", __name__, url_prefix="/api/v1")


@bp.post("/render")
def render_config():
    """Render {config, context?, settings?, history?} (YAML texts). :raise 400: invalid input"""
    body = json_body()
    pipeline = config.parse_pipeline(_text(body, "config"), "config")
    context = from_located(RenderContext, load_text(_text(body, "context", ""), "context"))
    settings = from_located(ProjectSettings, load_text(_text(body, "settings", ""), "settings"))
    history: tuple[HistoryEntry, ...] = history_from_located(
        load_text(_text(body, "history", ""), "history"))
    placement = cache.place(pipeline, context, settings, history)
    rendered = render.render(pipeline, context, settings, placement, sidecar().templates)
    return jsonify(jenkinsfile=rendered.jenkinsfile, podYaml=rendered.pod_yaml,
                   configXml=rendered.config_xml)


@bp.post("/validate")
def validate_config():
    """Validate {config}: 200 with every problem listed, or valid true. :raise 400: no config"""
    text = _text(json_body(), "config")
    try:
        render.check_fits(config.parse_pipeline(text, "config"), sidecar().templates)
    except ConfigError as exc:
        return jsonify(valid=False, errors=[problem_view(p) for p in exc.problems])
    return jsonify(valid=True, errors=[])


@bp.get("/schema")
def schema():
    """The JSON Schema of the config format."""
    return jsonify(pipeline_schema())


def _text(body: dict, key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(Problem(f"'{key}' must be a YAML text" if key in body
                                  else f"'{key}' is required"))
    return value
