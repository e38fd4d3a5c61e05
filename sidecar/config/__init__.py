"""Loading and validating pipeline configs and the files that go with a render."""

from __future__ import annotations

from pathlib import Path

from sidecar.config.inputs import (HistoryEntry, ProjectSettings, RenderContext,  # noqa: F401
                                   from_located, history_from_located)
from sidecar.config.loader import load_file, load_text
from sidecar.config.model import Pipeline
from sidecar.config.validate import validate_pipeline


def load_pipeline(path: str | Path) -> Pipeline:
    """Read, validate and model a pipeline config file."""
    return validate_pipeline(load_file(path))


def parse_pipeline(text: str, name: str = "<config>") -> Pipeline:
    """Validate and model a pipeline config given as text (API bodies, tests)."""
    return validate_pipeline(load_text(text, name))


def load_context(path: str | Path | None) -> RenderContext:
    """The trigger context from a YAML file, or the defaults of a manual local run."""
    return from_located(RenderContext, load_file(path)) if path else RenderContext()


def load_settings(path: str | Path | None) -> ProjectSettings:
    """Project settings from a YAML file, or the defaults."""
    return from_located(ProjectSettings, load_file(path)) if path else ProjectSettings()


def load_history(path: str | Path | None) -> tuple[HistoryEntry, ...]:
    """Execution history from a YAML list (newest first), or none."""
    return history_from_located(load_file(path)) if path else ()
