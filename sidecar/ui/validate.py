"""Validate a config and show each error at its line, as `jenkins-sidecar validate` reports it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request

from sidecar import config, render
from sidecar.errors import ConfigError, Problem
from sidecar.ui.base import bp, sidecar

FILE_NAME = "pipeline.yml"
MAX_CONFIG = 256 * 1024  # forms are bounded at 500 KB by Werkzeug before this


@dataclass(frozen=True)
class Line:
    """One line of the config and the problems found on it."""

    number: int
    text: str
    problems: list[Problem]


@bp.get("/validate")
def validate():
    """The form."""
    return render_template("ui/validate.html", text="", lines=None, problems=None)


@bp.post("/validate")
def validate_post():
    """Every problem of the config, listed and shown at its line."""
    text = request.form.get("config", "").replace("\r\n", "\n")
    if len(text) > MAX_CONFIG:
        too_large = Problem(f"the config is larger than {MAX_CONFIG // 1024} KB")
        return render_template("ui/validate.html", text="", lines=None,
                               problems=[too_large]), 413
    try:
        render.check_fits(config.parse_pipeline(text, FILE_NAME), sidecar().templates)
        problems = []
    except ConfigError as exc:
        problems = exc.problems
    return render_template("ui/validate.html", text=text, lines=_lines(text, problems),
                           problems=problems)


def _lines(text: str, problems: list[Problem]) -> list[Line]:
    at_line: dict[int, list[Problem]] = {}
    for problem in problems:
        if problem.pos:
            at_line.setdefault(problem.pos.line, []).append(problem)
    return [Line(n, line, at_line.get(n, [])) for n, line in enumerate(text.split("\n"), 1)]
