"""Blue Ocean's routes outside an organization: search, users, usage analytics.

``GET /blue/rest/search/?q=type:pipeline;organization:jenkins;pipeline:*web*`` lists
pipelines as Blue Ocean's PipelineSearch does (``;``-separated ``key:value`` terms, a
glob over the full name without case, an exact name without ``*``; other types find
nothing). Users are the commit authors of change sets, known by id and name only, and
only to callers who see a project they committed to.
Usage analytics (posted only where Jenkins' usage statistics are on) are accepted and
dropped: the sidecar collects none.
"""

from __future__ import annotations

from flask import jsonify, request

from sidecar.api.auth import current_principal
from sidecar.api.blueocean.common import blueprint, empty_response, paged, paging, route
from sidecar.api.context import caller_session
from sidecar.errors import ConfigError, Problem
from sidecar.readmodel import changes, names, queries, runs
from sidecar.services.pipelines import NotFound

bp = blueprint("blueocean_search")


@route(bp, "/blue/rest/search")
def search():
    """Pipelines matching the query ``q``; 400 without a type."""
    terms = _terms(request.args.get("q", ""))
    start, limit = paging()
    if terms.get("type") != "pipeline":
        return paged([], start, limit)
    organization = terms.get("organization")
    if organization not in (None, names.ORGANIZATION):
        raise ConfigError(Problem(f"Organization {organization} not found. Query parameter "
                                  f"organization value: {organization} is invalid. ",
                                  config_path="q"))
    can_write = current_principal().can_write
    with caller_session() as session:
        page = queries.pipelines_page(session, start, limit, named=terms.get("pipeline"))
        return paged([runs.pipeline_document(p, latest, can_write=can_write,
                                             parameters=queries.declared_parameters(p))
                      for p, latest in page], start, limit)


def _terms(query: str) -> dict[str, str]:
    """``key:value`` terms split on ';' (keys without case, only well-formed terms count)."""
    terms = {}
    for term in query.split(";"):
        parts = term.split(":")
        while parts and parts[-1] == "":  # as Java's split drops trailing empty strings
            parts.pop()
        if len(parts) == 2:
            key, value = parts[0].strip().lower(), parts[1].strip()
            terms[key] = value.lower() if key == "type" else value
    if "type" not in terms:
        raise ConfigError(Problem("type is required parameter for query param q",
                                  config_path="q"))
    return terms


@route(bp, "/blue/rest/users/<user>")
def user(user: str):
    """A commit author. :raise 404: nobody the sidecar knows"""
    with caller_session() as session:
        commit = queries.commit_author(session, user, current_principal().sees)
        if commit is None:
            raise NotFound(f"user {user} not found")
        return jsonify(changes.user_document(commit.author_id, commit.author_name))


@route(bp, "/blue/rest/users/<user>/favorites")
def favorites(user: str):
    """A user's favourite pipelines: the sidecar keeps none."""
    start, limit = paging()
    with caller_session() as session:
        if queries.commit_author(session, user, current_principal().sees) is None:
            raise NotFound(f"user {user} not found")
    return paged([], start, limit)


@route(bp, "/blue/rest/analytics/track", methods=("POST",))
def track():
    """Usage analytics: accepted, not kept."""
    return empty_response()
