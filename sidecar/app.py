"""The Flask application factory: settings, store, templates, blueprints."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from sidecar import outbound, ui
from sidecar.api import (approvals, auth, blueocean_input, callbacks, errors, executions, guard,
                         health, hooks, nodes, notifiers, openapi, pipelines, render, requestlog)
from sidecar.api.blueocean import BLUEPRINTS as BLUE_OCEAN
from sidecar.config.templates import TemplateSet, load_templates
from sidecar.engine.loop import Engine
from sidecar.errors import ConfigError, Problem
from sidecar.jenkins import JenkinsClient, JenkinsError
from sidecar.kube import KubeError, PodLocator
from sidecar.notify import WebhookSender
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
        if self.jenkins is None:
            return "not configured"
        try:
            return f"ok ({self.jenkins.ping()})"
        except JenkinsError as exc:
            log.warning("Jenkins is not reachable: %s", exc)
            return "unreachable"

    def start_engine(self) -> threading.Event | None:
        """Run the engine loop in a daemon thread; set the returned event to stop it."""
        if self.jenkins is None:
            log.warning("no Jenkins configured (SIDECAR_JENKINS_URL): executions will wait")
            return None
        stop = threading.Event()
        engine = Engine(store=self.store, jenkins=self.jenkins, templates=self.templates,
                        interval=self.settings.sync_interval, pods=self._pod_locator(),
                        reconcile=self.settings.sync_reconcile,
                        callback_url=self.settings.callback_url,
                        pod_lost_grace=self.settings.pod_lost_grace,
                        notifier=self._approval_notifier(), public_url=self.settings.public_url,
                        retention_interval=self.settings.retention_interval,
                        cache_root=self.settings.cache_root,
                        outbound=self.outbound)
        threading.Thread(target=engine.run, args=(stop,), name="sidecar-engine",
                         daemon=True).start()
        return stop

    def _approval_notifier(self) -> WebhookSender | None:
        if not self.settings.approval_webhook_url:
            return None
        return WebhookSender(url=self.settings.approval_webhook_url,
                             secret=self.settings.approval_webhook_secret, client=self.outbound)

    def _pod_locator(self) -> PodLocator | None:
        api = self.settings.kubernetes_api
        if api == "off":
            return None
        try:
            return PodLocator(namespace=self.settings.agent_namespace, host=api or None,
                              token=self.settings.kubernetes_token or None)
        except KubeError as exc:
            log.warning("node history off: %s", exc)
            return None


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
    jenkins = None
    if settings.jenkins_url:
        jenkins = JenkinsClient(url=settings.jenkins_url, user=settings.jenkins_user,
                                token=settings.jenkins_token, password=settings.jenkins_password,
                                timeout=settings.jenkins_timeout)
    tokens = load_tokens(settings.api_tokens_file) if settings.api_tokens_file else None
    app.extensions["sidecar"] = Sidecar(settings, store, templates, jenkins, tokens,
                                        outbound.Client(_outbound_policy(settings)))
    app.register_blueprint(requestlog.bp)  # first: every later failure has its request id
    errors.register(app)
    guard.install(app, settings.max_content_length)
    for blueprint in (auth.bp, openapi.bp, health.bp, pipelines.bp, executions.bp,
                      callbacks.bp, render.bp, hooks.bp, nodes.bp, approvals.bp,
                      blueocean_input.bp, notifiers.bp, *BLUE_OCEAN):
        app.register_blueprint(blueprint)
    ui.init_app(app, settings)
    return app


def _outbound_policy(settings: ServiceSettings) -> outbound.Policy:
    try:
        return outbound.Policy.parse(settings.outbound_allow)
    except ValueError as exc:
        raise ConfigError(Problem(f"SIDECAR_OUTBOUND_ALLOW: {exc}")) from None
