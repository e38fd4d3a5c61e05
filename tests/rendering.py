"""Render a golden scenario the way the CLI does, keeping paths portable in errors."""

from __future__ import annotations

from scenarios import Scenario
from sidecar import cache, config, render
from sidecar.config.inputs import HistoryEntry, ProjectSettings, RenderContext, from_located
from sidecar.config.loader import load_file
from sidecar.config.validate import validate_pipeline


def inputs(scenario: Scenario) -> tuple[RenderContext, ProjectSettings, tuple[HistoryEntry, ...]]:
    """The scenario's context, settings and history (defaults where it has none)."""
    settings = scenario.optional(".settings.yml")
    return (config.load_context(scenario.optional(".context.yml")),
            # By file name, as the config is, so a settings error's position is portable.
            from_located(ProjectSettings, load_file(settings, display_name=settings.name))
            if settings else ProjectSettings(),
            config.load_history(scenario.optional(".history.yml")))


def load_scenario(scenario: Scenario) -> config.Pipeline:
    """Load the scenario's config, naming it by file name so error lines are portable."""
    return validate_pipeline(load_file(scenario.config, display_name=scenario.config.name))


def render_scenario(scenario: Scenario, templates) -> render.Rendered:
    """Render a scenario exactly as `jenkins-sidecar render` would."""
    pipeline = load_scenario(scenario)
    context, settings, history = inputs(scenario)
    placement = cache.place(pipeline, context, settings, history)
    return render.render(pipeline, context, settings, placement, templates)
