"""Receive a delivery: check its signature, map it, dedupe it, start at most one run.

Unknown pipelines and bad signatures answer alike (401, same message), so a caller
without the secret learns nothing about which pipelines exist. A delivery is recorded
in ``webhook_deliveries`` (primary key provider + "pipeline/delivery id") in the same
transaction that records its execution: of two identical deliveries racing, the second
insert fails on the key (PostgreSQL waits for the first to commit; SQLite serialises
writers), so exactly one run starts. Payload repository URLs are only compared with
the pipeline's; the run always clones the pipeline's own repository.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Mapping

from sqlalchemy.exc import IntegrityError

from sidecar import outbound, scm
from sidecar.errors import ConfigError, Problem
from sidecar.intake import bitbucket, commits, github, gitlab, registries, signatures
from sidecar.services import bounded, executions, repoconfig, triggers
from sidecar.services.callbacks import Unauthorized
from sidecar.services.events import HookEvent, Ignored
from sidecar.services.pipelines import NAME, Conflict
from sidecar.store import Store
from sidecar.store.models import ExecutionCommit, Pipeline, WebhookDelivery

log = logging.getLogger(__name__)
REFUSED = "invalid webhook signature or token, or unknown pipeline"
DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,72}")


class BadSignature(Unauthorized):
    """The delivery is not signed with the pipeline's secret (or there is no such pipeline)."""


@dataclass(frozen=True)
class Delivery:
    """One request to /hooks/<provider>, as received."""

    provider: str
    pipeline_id: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The answer: HTTP status and JSON body."""

    status: int
    body: dict


@dataclass(frozen=True)
class _Source:
    secret: str
    inline_config: str | None
    triggers: dict
    config: repoconfig.Source
    """Where the config file is read when there is no inline config."""


def receive(store: Store, delivery: Delivery, client: outbound.Client) -> Outcome:
    """Handle a delivery. :raise BadSignature: :raise ConfigError: bad body or config"""
    source = _source(store, delivery.pipeline_id)
    if not signatures.verify(delivery.provider, source.secret if source else "",
                             delivery.headers, delivery.body, delivery.query) or source is None:
        raise BadSignature(REFUSED)
    payload = _payload(delivery.body)
    try:
        event = _event(delivery, payload, source)
    except Ignored as exc:
        return Outcome(200, {"ignored": str(exc)})
    delivery_id = _delivery_id(delivery, event)
    if _seen(store, delivery.provider, delivery_id):
        return Outcome(200, {"duplicate": True, "deliveryId": delivery_id})
    if source.inline_config is None and not source.config.repository_url:
        raise ConfigError(Problem("the pipeline has neither an inline config nor a repository"))
    text = None if source.inline_config is not None else \
        _config_at(client, delivery, source, event)
    return _start(store, delivery, delivery_id, event, _request(event, text, source.triggers),
                  commits.delivered(delivery.provider, payload))


def _source(store: Store, pipeline_id: str) -> _Source | None:
    project, _, name = pipeline_id.partition(":")
    if not (NAME.match(project) and NAME.match(name)):
        return None     # cannot exist; never sent to the database (PostgreSQL refuses NUL)
    with store.session() as session:
        p = session.get(Pipeline, pipeline_id)
        if p is None:
            return None
        return _Source(p.webhook_secret or "", p.inline_config, dict(p.triggers or {}),
                       repoconfig.source(p))


def _payload(body: bytes) -> dict:
    payload = bounded.loads(body)
    if not isinstance(payload, dict):
        raise ConfigError(Problem("the delivery's body must be a JSON object"))
    return payload


def _event(delivery: Delivery, payload: dict, source: _Source) -> HookEvent:
    """The event the pipeline takes from this delivery. :raise Ignored: with the reason"""
    if delivery.provider == "harbor":
        candidates = registries.harbor(payload)
    elif delivery.provider == "dockerhub":
        candidates = [registries.dockerhub(payload)]
    elif delivery.provider == "bitbucket":
        candidates = bitbucket.events(delivery.headers, payload)
    else:
        parser = {"github": github, "gitlab": gitlab}[delivery.provider]
        candidates = [parser.parse(delivery.headers, payload)]
    reasons = []
    for event in candidates:
        reason = _foreign_repository(source, event) or _too_long(event) or \
            triggers.refusal(source.triggers, event)
        if reason is None:
            return event
        reasons.append(reason)
    raise Ignored("; ".join(reasons))


def _foreign_repository(source: _Source, event: HookEvent) -> str | None:
    if not source.config.repository_url or not event.repository_urls:
        return None
    ours = scm.split_url(source.config.repository_url)
    if any(scm.split_url(url) == ours for url in event.repository_urls):
        return None
    return "the delivery is about another repository than the pipeline's"


def _too_long(event: HookEvent) -> str | None:
    # A provider accepts longer refs than a run stores; such a push can start no run.
    problems = executions.too_long(branch=event.branch, ref=event.ref, commit=event.commit)
    return "; ".join(p.line() for p in problems) or None


def _delivery_id(delivery: Delivery, event: HookEvent) -> str:
    given = event.extra.get("dedupe") or _provider_id(delivery, event)
    given = given or "body-" + hashlib.sha256(delivery.body).hexdigest()
    if not DELIVERY_ID.fullmatch(given):      # odd or long header values: a stable stand-in
        given = "sha256-" + hashlib.sha256(given.encode("utf-8", "replace")).hexdigest()
    # Per pipeline: one push may reach several pipelines' hooks with the same id (GitLab's
    # event UUID, a registry's derived id), and each pipeline should run once.
    return f"{delivery.pipeline_id}/{given}"


def _provider_id(delivery: Delivery, event: HookEvent) -> str:
    if delivery.provider == "github":
        return github.delivery_id(delivery.headers)
    if delivery.provider == "gitlab":
        return gitlab.delivery_id(delivery.headers, delivery.body)
    if delivery.provider == "bitbucket":
        return bitbucket.delivery_id(delivery.headers)
    return registries.delivery_id(delivery.provider, event)


def _seen(store: Store, provider: str, delivery_id: str) -> bool:
    with store.session() as session:
        return session.get(WebhookDelivery, (provider, delivery_id)) is not None


def _config_at(client: outbound.Client, delivery: Delivery, source: _Source,
               event: HookEvent) -> str:
    """The config file at the pushed commit, read with the pipeline's credential."""
    git_provider = delivery.provider if delivery.provider in scm.PROVIDERS else ""
    return repoconfig.read(client, source.config, event.commit or _image_branch(source.triggers),
                           git_provider)


def _image_branch(trigger_settings: dict) -> str:
    return trigger_settings.get("imageBranch") or "main"


def _start(store: Store, delivery: Delivery, delivery_id: str, event: HookEvent,
           request: executions.TriggerRequest, delivered: list[commits.Commit]) -> Outcome:
    with store.session() as session:
        session.add(WebhookDelivery(provider=delivery.provider, delivery_id=delivery_id,
                                    pipeline_id=delivery.pipeline_id))
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return Outcome(200, {"duplicate": True, "deliveryId": delivery_id})
        try:
            execution = executions.trigger(session, delivery.pipeline_id, request)
        except Conflict as exc:      # the config's own branch filter
            session.rollback()
            return Outcome(200, {"ignored": str(exc)})
        execution.triggered_by = f"webhook:{delivery.provider}"
        execution.commits = [ExecutionCommit(position=n, **asdict(c))
                             for n, c in enumerate(delivered)]
        log.info("%s delivery %s started %s (%s %s %s)", delivery.provider, delivery_id,
                 execution.id, event.event, event.branch, event.commit[:12])
        return Outcome(202, {"executionId": execution.id, "deliveryId": delivery_id,
                             "event": event.event, "branch": event.branch,
                             "ref": event.ref, "commit": event.commit})


def _request(event: HookEvent, config_text: str | None,
             trigger_settings: dict) -> executions.TriggerRequest:
    if event.event == "image":
        branch = _image_branch(trigger_settings)
        return executions.TriggerRequest(trigger_type="image", event="image", branch=branch,
                                         ref=f"refs/heads/{branch}", message=event.message,
                                         config_text=config_text)
    return executions.TriggerRequest(trigger_type="webhook", event=event.event,
                                     branch=event.branch, ref=event.ref, commit=event.commit,
                                     message=event.message, config_text=config_text)
