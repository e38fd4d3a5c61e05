"""The Jenkins job config.xml, from an autoescaping template."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from sidecar.config.inputs import RenderContext
from sidecar.config.model import Discarder, Pipeline
from sidecar.errors import RenderError


def render_job_xml(template_text: str, *, pipeline: Pipeline, jenkinsfile: str,
                   context: RenderContext, default_discarder: Discarder | None = None) -> str:
    """A WorkflowJob with the script sandboxed, parameters and build discarder.

    The config's ``discarder`` wins; without one the project's default applies, so Jenkins
    keeps the same builds the sidecar keeps executions.
    """
    discarder = pipeline.discarder or default_discarder
    if discarder and not (discarder.days_to_keep or discarder.num_to_keep):
        discarder = None
    try:
        return _compiled(template_text).render(
            pipeline=pipeline, jenkinsfile=jenkinsfile, context=context, discarder=discarder,
            parameters=[_ordered(p) for p in pipeline.parameters])
    except jinja2.TemplateError as exc:
        raise RenderError(f"config.xml template error: {exc}") from exc


@lru_cache(maxsize=8)
def _compiled(template_text: str) -> jinja2.Template:
    # Autoescape on: every value is XML-escaped. The Jenkinsfile is ASCII, and parameter
    # texts were checked for control characters XML 1.0 cannot hold.
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.from_string(template_text)


def _ordered(parameter):
    # Jenkins takes a choice parameter's first choice as its default.
    if parameter.type != "choice":
        return parameter
    rest = [c for c in parameter.choices if c != parameter.default]
    return parameter.__class__(**{**parameter.__dict__,
                                  "choices": (parameter.default, *rest)})
