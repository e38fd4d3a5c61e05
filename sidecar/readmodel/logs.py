"""Run and step logs by byte offset, as Blue Ocean's LogResource serves them.

Offsets (``start``, ``X-Text-Size``) count bytes of the UTF-8 log. A step's log is its
archived LogChunks once it has ended (sync stores each chunk at its byte offset). While
a step runs, its log is read live from Jenkins (the step's flow node log) and cut after
its last complete line, so no half-written character or line is ever delivered; the
archive holds exactly those bytes and more, so offsets carry across the live→archived
switch with every byte delivered once.

Jenkins' own offsets count the raw log, console notes included, ours count delivered
bytes, so one cannot be computed from the other. Each live read that ends at a line end
records a :class:`LiveLogMark` pairing the two (in the database, so every worker and
replica finds it), and the next read from byte ``start`` asks Jenkins only from the
nearest mark at or before it: a client that follows a running step costs Jenkins what
was written since its last poll, not the whole log each time.

The run log is the archived step logs in the order the steps ended (the order sync
archives them), so it only ever grows at its end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sidecar.jenkins import JenkinsClient, JenkinsError
from sidecar.store import write_aside
from sidecar.store.models import END_STATES, Execution, LiveLogMark, LogChunk, StepState

log = logging.getLogger(__name__)
DEFAULT_THRESHOLD_KB = 150


@dataclass(frozen=True)
class LogSlice:
    """What a log request answers: the bytes, where to continue, and if more may come."""

    body: bytes
    size: int
    more: bool


@dataclass(frozen=True)
class StepLog:
    """A step's log from byte ``base`` on (0 unless read live from a mark)."""

    text: bytes
    complete: bool
    base: int = 0
    marks: tuple[dict, ...] = ()
    """Marks this read found, for :func:`remember` to store after the read."""

    @property
    def size(self) -> int:
        """The log's size in bytes so far."""
        return self.base + len(self.text)


def window(log: StepLog, start: int | None, *,
           threshold_kb: int = DEFAULT_THRESHOLD_KB) -> LogSlice:
    """Bytes from start (default: the last threshold_kb KB) to the end."""
    if start is None:
        start = log.size - threshold_kb * 1024
    start = min(max(start, log.base), log.size)
    return LogSlice(log.text[start - log.base:], log.size, not log.complete)


def run_log(session: Session, execution: Execution) -> tuple[bytes, bool]:
    """The run's archived log and whether it is complete."""
    chunks = session.scalars(
        select(LogChunk).join(StepState, (StepState.execution_id == LogChunk.execution_id) &
                              (StepState.stage_index == LogChunk.stage_index) &
                              (StepState.step_index == LogChunk.step_index))
        .where(LogChunk.execution_id == execution.id)
        .order_by(StepState.ended_at, LogChunk.stage_index, LogChunk.step_index,
                  LogChunk.offset))
    return _join(chunks), execution.state in END_STATES


def step_log(session: Session, execution: Execution, row: StepState,
             jenkins: JenkinsClient | None, start: int = 0) -> StepLog:
    """A step's log: archived, or live while it runs — from the nearest mark at or
    before byte ``start`` (0: the whole log)."""
    complete = row.state in (*END_STATES, "Skipped") or execution.state in END_STATES
    chunks = session.scalars(select(LogChunk).where(
        LogChunk.execution_id == execution.id, LogChunk.stage_index == row.stage_index,
        LogChunk.step_index == row.step_index).order_by(LogChunk.offset))
    archived = _join(chunks)
    if archived or complete or jenkins is None or not row.jenkins_node_id or \
            execution.jenkins_build is None or not execution.jenkins_job:
        return StepLog(archived, complete)
    node_id = row.jenkins_node_id
    base, raw = session.execute(
        select(LiveLogMark.delivered, LiveLogMark.raw)
        .where(LiveLogMark.execution_id == execution.id, LiveLogMark.node_id == node_id,
               LiveLogMark.delivered <= max(start, 0))
        .order_by(LiveLogMark.delivered.desc()).limit(1)).first() or (0, 0)
    try:
        chunk = jenkins.stage_log(execution.jenkins_job, execution.jenkins_build, node_id,
                                  start=raw)
    except JenkinsError as exc:  # Jenkins away: nothing new now, the client polls again
        log.warning("live log of %s %s-%s unavailable: %s", execution.id, row.stage_index,
                    row.step_index, exc)
        return StepLog(b"", False, base)
    text = chunk.text.encode("utf-8")
    whole = text[:text.rfind(b"\n") + 1]
    marks = ()
    if whole and whole == text:  # Jenkins' offset is that of the next line's start
        marks = ({"execution_id": execution.id, "node_id": node_id,
                  "delivered": base + len(text), "raw": chunk.next_start},)
    return StepLog(whole, False, base, marks)


def remember(engine: Engine, marks: tuple[dict, ...]) -> None:
    """Store the marks live reads found, for the next read by any worker to start at."""
    if not marks:
        return
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    write_aside(engine, dialect.insert(LiveLogMark).on_conflict_do_nothing(), list(marks))


def _join(chunks) -> bytes:
    return "".join(chunk.text for chunk in chunks).encode("utf-8")
