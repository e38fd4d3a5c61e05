"""The Flask application factory: settings, store, templates, blueprints."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from sidecar import outbound, ui
from sidecar.api import (approvals, auth, blueocean_input, callbacks, errors, executions, guard,
                         health, hooks, metrics, nodes, notifiers, openapi, pipelines, render,
                         requestlog)
from sidecar.api.blueocean import BLUEPRINTS as BLUE_OCEAN
from sidecar.config.templates import TemplateSet, load_templates
from sidecar.jenkins import JenkinsClient, client_from, status
from sidecar.services import pipelines as pipeline_service
from sidecar.services.access import TokenTable, load_tokens
from sidecar.settings import ServiceSettings, settings_from
from sidecar.store import Store

log = logging.getLogger(__name__)


@dataclass
class Sidecar:
    """Per-app state, kept in ``app.extensions['sidecar']`` (no globals)."""

    settings: ServiceSettings
    store: Store
    templates: TemplateSet
    jenkins: JenkinsClient | None = None
    tokens: TokenTable | None = None
    """API bearer tokens; None: no token file, every caller is anonymous."""
    outbound: outbound.Client = field(default_factory=outbound.Client)
    """The guarded client of SCM API calls and webhooks."""

    def jenkins_status(self) -> str:
        """'not configured', 'unreachable', or 'ok' with Jenkins' version."""
        return status(self.jenkins)


def create_app(test_config: Mapping[str, Any] | None = None, *, prepare: bool = True) -> Flask:
    """Build the app from SIDECAR_* variables; test_config overrides settings fields.

    prepare: migrate the database and load the examples first; `serve` does that once,
    before any worker starts, and its workers pass False.
    """
    overrides = dict(test_config or {})
    testing = bool(overrides.pop("TESTING", False))
    settings = settings_from(os.environ if not testing else {}, overrides)
    app = Flask(__name__)
    app.config.update(TESTING=testing, JSON_SORT_KEYS=False)
    templates = load_templates(settings.jenkinsfile_templates_dir or None,
                               settings.podtemplates_dir or None)
    store = Store(settings.database_url, pool_size=settings.database_pool_size)
    if prepare:
        prepare_database(store, settings)
    jenkins = client_from(settings) if settings.jenkins_url else None
    tokens = load_tokens(settings.api_tokens_file) if settings.api_tokens_file else None
    policy = outbound.policy_from(settings.outbound_allow)
    app.extensions["sidecar"] = Sidecar(settings, store, templates, jenkins, tokens,
                                        outbound.Client(policy))
    app.register_blueprint(requestlog.bp)  # first: every later failure has its request id
    errors.register(app)
    guard.install(app, settings.max_content_length)
    for blueprint in (auth.bp, openapi.bp, health.bp, metrics.bp, pipelines.bp, executions.bp,
                      callbacks.bp, render.bp, hooks.bp, nodes.bp, approvals.bp,
                      blueocean_input.bp, notifiers.bp, *BLUE_OCEAN):
        app.register_blueprint(blueprint)
    ui.init_app(app, settings)
    return app


def prepare_database(store: Store, settings: ServiceSettings) -> None:
    """Migrate and load the examples, one process at a time (concurrent replicas wait)."""
    with store.exclusive():
        store.upgrade()
        if settings.examples_dir:
            with store.session() as session:
                added = pipeline_service.load_examples(session, Path(settings.examples_dir))
            log.info("loaded %d example pipelines from %s", added, settings.examples_dir)


def preflight(settings: ServiceSettings) -> None:
    """Read what every worker will read (templates, tokens, policy): a bad file is one clear
    error before any process starts, not a worker that fails to boot."""
    load_templates(settings.jenkinsfile_templates_dir or None, settings.podtemplates_dir or None)
    if settings.api_tokens_file:
        load_tokens(settings.api_tokens_file)
    outbound.policy_from(settings.outbound_allow)
