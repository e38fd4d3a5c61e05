"""The config of a pipeline that keeps it in its repository, read at a commit or branch.

A webhook brings the commit whose config its run builds (`sidecar.intake`); a run
started by hand (API, Blue Ocean, web UI) names a branch, or a commit, and its config is
read there the same way: the provider's file API, the pipeline's own credential, the
guarded outbound client (`sidecar.scm`). The read happens before the trigger's
transaction, which holds the pipeline's run counter. A fetched text that is not a
pipeline config is refused with where it fails, never with what it holds: the API URL is
the pipeline owner's choice, and quoting an answer back would let that owner read
whatever the sidecar can reach.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from sidecar import config, outbound, scm
from sidecar.errors import ConfigError, Problem
from sidecar.services.executions import TriggerRequest, check_lengths
from sidecar.store.models import Pipeline


@dataclass(frozen=True)
class Source:
    """Where a pipeline's config file lives and how to read it."""

    repository_url: str
    config_path: str
    token: str
    provider: str = ""
    """github, gitlab or bitbucket; empty: told by the webhook, else by the URL's host."""
    api_url: str = ""


def source_of(session: Session, pipeline_id: str) -> Source | None:
    """Where the pipeline keeps its config; None with an inline config (or no pipeline)."""
    pipeline = session.get(Pipeline, pipeline_id)
    if pipeline is None or pipeline.inline_config is not None or not pipeline.repository_url:
        return None
    return source(pipeline)


def source(pipeline: Pipeline) -> Source:
    """Where a pipeline's config file would be read, from its registration."""
    triggers = pipeline.triggers or {}
    return Source(pipeline.repository_url or "", pipeline.config_path,
                  pipeline.provider_token or "", triggers.get("scm", ""),
                  triggers.get("apiUrl", ""))


def read(client: outbound.Client, source: Source, ref: str, provider: str = "") -> str:
    """The config file at ref. :raise ScmError: unreadable :raise ConfigError: not a config"""
    repository = scm.locate(source.repository_url, source.provider or provider, source.api_url)
    text = scm.read_file(client, repository, source.token, source.config_path, ref)
    try:
        config.parse_pipeline(text, source.config_path)
    except ConfigError as exc:
        raise ConfigError([Problem("not a valid pipeline config here; check the file with "
                                   "`jenkins-sidecar validate`", pos=p.pos)
                           for p in exc.problems]) from None
    return text


def filled(request: TriggerRequest, source: Source | None,
           client: outbound.Client) -> TriggerRequest:
    """The request with the repository's config at its commit (else branch) if it has none.

    :raise ConfigError: an over-long branch, ref or commit, before the provider is asked
    """
    check_lengths(request)
    if source is None or request.config_text is not None:
        return request
    return replace(request, config_text=read(client, source, request.commit or request.branch))
