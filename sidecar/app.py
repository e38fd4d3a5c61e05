"""The Flask application factory: settings, store, templates, blueprints."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from sidecar.api import errors, executions, health, pipelines, render
from sidecar.config.templates import TemplateSet, load_templates
from sidecar.engine import pipelines as pipeline_service
from sidecar.settings import ServiceSettings, settings_from
from sidecar.store import Store

log = logging.getLogger(__name__)


@dataclass
class Sidecar:
    """Per-app state, kept in ``app.extensions['sidecar']`` (no globals)."""

    settings: ServiceSettings
    store: Store
    templates: TemplateSet

    def jenkins_status(self) -> str:
        """'not configured' until a Jenkins URL is set; the engine reports reachability."""
        return "not configured" if not self.settings.jenkins_url else "configured"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from SIDECAR_* variables; test_config overrides settings fields."""
    overrides = dict(test_config or {})
    testing = bool(overrides.pop("TESTING", False))
    settings = settings_from(os.environ if not testing else {}, overrides)
    app = Flask(__name__)
    app.config.update(TESTING=testing, JSON_SORT_KEYS=False)
    templates = load_templates(settings.jenkinsfile_templates_dir or None,
                               settings.podtemplates_dir or None)
    store = Store(settings.database_url)
    store.migrate()
    if settings.examples_dir:
        with store.session() as session:
            added = pipeline_service.load_examples(session, Path(settings.examples_dir))
        log.info("loaded %d example pipelines from %s", added, settings.examples_dir)
    app.extensions["sidecar"] = Sidecar(settings, store, templates)
    errors.register(app)
    for blueprint in (health.bp, pipelines.bp, executions.bp, render.bp):
        app.register_blueprint(blueprint)
    return app
