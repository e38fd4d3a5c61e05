"""Finished runs' Blue Ocean documents: built once, stored in the database, served as text.

A finished run's PipelineRunImpl never changes again, with one exception: its
``nextRun`` link appears when the pipeline's next run is triggered. So the document is
stored (table ``run_documents``) with whether it was built with that link, and built
again, once, when the link is due. Stored in the database, not in the process, so every
worker and replica serves the same bytes and the same ``ETag`` (a hash of them).

Reads take the page of runs joined to their stored documents in one query; only runs
still changing, or finished runs not stored yet, are built from their rows (with their
change sets in one more query). Newly built documents are written by :func:`remember` in
a transaction of their own after the read: a write that fails (another worker stored the
same document first, SQLite busy) loses nothing, the next read stores it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, and_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sidecar.readmodel import queries, runs
from sidecar.services.pipelines import NotFound
from sidecar.store import scope, write_aside
from sidecar.store.models import END_STATES, Execution, Pipeline, RunDocument

RUN = "run"
NODES = "nodes"


@dataclass(frozen=True)
class Document:
    """A run's JSON text; etag only when the run has finished (the text is final)."""

    body: str
    etag: str | None = None


@dataclass
class Page:
    """Documents of a page of runs, and those built now that are worth storing."""

    documents: list[Document]
    built: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> str:
        """The page as one JSON array."""
        return "[" + ",".join(d.body for d in self.documents) + "]"


def dumps(document: Any) -> str:
    """JSON text as Flask's jsonify writes it (sorted keys, compact, ASCII)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def etag_of(body: str) -> str:
    """A strong validator of a document's text."""
    return hashlib.blake2b(body.encode("utf-8"), digest_size=16).hexdigest()


def runs_page(session: Session, pipeline_id: str, start: int, limit: int) -> Page:
    """A page of the pipeline's runs, newest first, as documents. :raise NotFound:"""
    rows = _rows(session, _PAGE, {"pipeline_id": pipeline_id, "start": start, "limit": limit})
    if not rows:  # no such pipeline (404), or no runs on this page
        queries.pipeline(session, pipeline_id)
        return Page([])
    return _complete(session, rows, rows[0].next_run - 1)


def run_document(session: Session, pipeline_id: str, number: str) -> Page:
    """One run (by its number) as a one-document page. :raise NotFound:"""
    rows = _rows(session, _ONE, {"pipeline_id": pipeline_id,
                                 "run": queries.run_number(pipeline_id, number)})
    if not rows:
        raise NotFound(f"Run {number} not found in pipeline {pipeline_id}")
    return _complete(session, rows, rows[0].next_run - 1)


def _with_documents(*conditions):
    """Runs' keys, their pipeline's run counter and stored documents (null when none)."""
    return select(Execution.id, Execution.run, Execution.state, Pipeline.next_run,
                  RunDocument.has_next, RunDocument.etag, RunDocument.body) \
        .join(Pipeline, Pipeline.id == Execution.pipeline_id) \
        .outerjoin(RunDocument, and_(RunDocument.execution_id == Execution.id,
                                     RunDocument.kind == RUN)).where(*conditions)


# Built once: a request only binds its values (building a statement costs as much as
# running this one).
_PAGE = _with_documents(Execution.pipeline_id == bindparam("pipeline_id")) \
    .order_by(Execution.run.desc()).offset(bindparam("start", type_=Integer)) \
    .limit(bindparam("limit", type_=Integer))
_ONE = _with_documents(Execution.pipeline_id == bindparam("pipeline_id"),
                       Execution.run == bindparam("run", type_=Integer))


def _rows(session: Session, statement, values: dict[str, Any]) -> list:
    """The statement's rows; through the connection when the session sees every project.

    A restricted session adds its projects' criteria to ORM statements only, so it runs
    them through the ORM; an unrestricted one skips the ORM's per-statement work.
    """
    if scope.unrestricted(session):
        return session.connection().execute(statement, values).all()
    return session.execute(statement, values).all()


def _complete(session: Session, rows: list, last_run: int) -> Page:
    """Stored documents where they are current; the others built from the executions."""
    # Unpacked once: a named attribute of a result row costs as much as building a tuple.
    keyed = [(key, run, has_next, etag, body)
             for key, run, _state, _next_run, has_next, etag, body in rows]
    missing = {key for key, run, has_next, _, body in keyed
               if body is None or has_next != (run < last_run)}
    page, built = Page([]), {}
    if missing:
        for execution in session.scalars(select(Execution).options(*queries.RUN_COLUMNS)
                                         .where(Execution.id.in_(missing))):
            body = dumps(runs.run_document(execution, last_run))
            if execution.state not in END_STATES:
                built[execution.id] = Document(body)
                continue
            built[execution.id] = Document(body, etag_of(body))
            page.built.append({"execution_id": execution.id, "kind": RUN, "body": body,
                               "has_next": execution.run < last_run,
                               "etag": built[execution.id].etag})
    # A run discarded between the two reads is left out, as if the page were read later.
    page.documents = [built[key] if key in missing else Document(body, etag)
                      for key, _, _, etag, body in keyed if key in built or key not in missing]
    return page


def stored_nodes(session: Session, pipeline_id: str, number: str) -> str | None:
    """The stored node list of a finished run (JSON text), or None. :raise NotFound:"""
    return session.scalar(
        select(RunDocument.body).join(Execution, Execution.id == RunDocument.execution_id)
        .where(Execution.pipeline_id == pipeline_id, RunDocument.kind == NODES,
               Execution.run == queries.run_number(pipeline_id, number)))


def nodes_to_store(execution: Execution, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's node list as a row to store, once it can no longer change (else none).

    A node's duration counts up to now while it has a start and no end, so a run that
    ended with such a step (its times never reported) is built on every read instead.
    """
    if execution.state not in END_STATES or any(
            row.started_at is not None and row.ended_at is None for row in execution.steps):
        return []
    body = dumps(nodes)
    return [{"execution_id": execution.id, "kind": NODES, "body": body, "has_next": False,
             "etag": etag_of(body)}]


def remember(engine: Engine, built: list[dict[str, Any]]) -> None:
    """Store newly built documents (or replace older ones); a failure only logs."""
    if not built:
        return
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RunDocument)
    statement = statement.on_conflict_do_update(
        index_elements=[RunDocument.execution_id, RunDocument.kind],
        set_={"has_next": statement.excluded.has_next, "etag": statement.excluded.etag,
              "body": statement.excluded.body})
    write_aside(engine, statement, built)
