"""What each node's `cache gc` found: one NodeCache row per cache directory per node.

A report is a full scan of the node's cache root, so a directory it no longer lists
is gone from the node (`pruned`), and a node the cluster no longer lists has lost all
its caches (`gone`). The affinity schemes read these rows to stop preferring nodes
whose cache for a pipeline has been pruned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar.config.loader import Located
from sidecar.config.validate import schema_problems
from sidecar.errors import ConfigError
from sidecar.render.naming import path_segment
from sidecar.store.models import NodeCache, Pipeline, utcnow

STATES = ("present", "pruned")
_CACHE = {"type": "object", "required": ["directory", "sizeBytes", "state"],
          "properties": {
              "directory": {"type": "string", "minLength": 1, "maxLength": 1000,
                            "pattern": r"^(?!/)(?!.*(^|/)\.\.?(/|$))[^\x00]+$",
                            "x-expected": "a path relative to the cache root"},
              "scope": {"enum": ["trusted", "untrusted"]},
              "slot": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**31 - 1},
              "sizeBytes": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
              "lastUsedAt": {"type": ["string", "null"], "format": "date-time"},
              "state": {"enum": list(STATES)},
              "reason": {"type": "string"}}}
REPORT = {"type": "object", "required": ["caches"],
          "properties": {"caches": {"type": "array", "items": _CACHE, "maxItems": 100000},
                         "root": {"type": "string"}, "dryRun": {"type": "boolean"}}}


def record_report(session: Session, node: str, body: dict[str, Any]) -> dict[str, int]:
    """Upsert the node's rows from a gc report. :raise ConfigError: a malformed report."""
    problems = schema_problems(Located(body, "report"), REPORT)
    if problems:
        raise ConfigError(problems)
    if any(not _storable(cache["directory"]) for cache in body["caches"]):
        raise ConfigError("a directory must be valid UTF-8 text")
    directories = [cache["directory"] for cache in body["caches"]]
    if len(set(directories)) != len(directories):
        raise ConfigError("a report lists each directory once")
    if body.get("dryRun"):
        raise ConfigError("a dry run changes nothing; it is not recorded")
    now, pipelines = utcnow(), _pipeline_ids(session)
    rows = {row.directory: row for row in session.scalars(
        select(NodeCache).where(NodeCache.node_name == node))}
    counts = {"present": 0, "pruned": 0}
    for cache in body["caches"]:
        row = rows.pop(cache["directory"], None) or NodeCache(
            node_name=node, directory=cache["directory"])
        _apply(row, cache, pipelines, now)
        session.add(row)
        counts[row.state] += 1
    for row in rows.values():  # not found by a full scan: gone from the node
        if row.state == "present":
            row.state, row.reported_at = "pruned", now
            counts["pruned"] += 1
    session.flush()
    return counts


def mark_departed(session: Session, nodes: set[str]) -> int:
    """Rows of nodes that left the cluster become `gone`; returns how many changed."""
    rows = session.scalars(select(NodeCache).where(NodeCache.state != "gone")).all()
    departed = [row for row in rows if row.node_name not in nodes]
    for row in departed:
        row.state, row.reported_at = "gone", utcnow()
    return len(departed)


def listing(session: Session, node: str) -> list[NodeCache]:
    """The node's cache rows, by directory."""
    return list(session.scalars(select(NodeCache).where(NodeCache.node_name == node)
                                .order_by(NodeCache.directory)))


def view(row: NodeCache) -> dict[str, Any]:
    """A row as the API shows it."""
    return {"node": row.node_name, "directory": row.directory, "pipelineId": row.pipeline_id,
            "scope": row.scope, "slot": row.slot, "sizeBytes": row.size_bytes,
            "lastUsedAt": row.last_used_at.isoformat() if row.last_used_at else None,
            "state": row.state, "reportedAt": row.reported_at.isoformat()}


def _apply(row: NodeCache, cache: dict, pipelines: dict[tuple[str, str], str],
           now: datetime) -> None:
    parts = cache["directory"].split("/")
    row.pipeline_id = pipelines.get(tuple(parts[:2])) if len(parts) >= 4 else None
    row.scope = cache.get("scope") or (parts[2] if len(parts) >= 4 else "trusted")
    row.slot = cache.get("slot")
    row.size_bytes, row.state, row.reported_at = cache["sizeBytes"], cache["state"], now
    row.last_used_at = _time(cache.get("lastUsedAt"))


def _pipeline_ids(session: Session) -> dict[tuple[str, str], str]:
    """(project segment, pipeline segment) -> pipeline id, as `volumes.host_path` names them."""
    return {(path_segment(project), path_segment(pipeline_id)): pipeline_id
            for pipeline_id, project in session.execute(select(Pipeline.id, Pipeline.project))}


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes
        return False
    return True


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"lastUsedAt {text!r} is not an ISO 8601 time") from None
