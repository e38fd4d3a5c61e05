"""Run and step logs by byte offset, as Blue Ocean's LogResource serves them.

Offsets (``start``, ``X-Text-Size``) count bytes of the UTF-8 log. A step's log is its
archived LogChunks once it has ended (sync stores each chunk at its byte offset). While
a step runs, its log is read live from Jenkins (the step's flow node log) and cut after
its last complete line, so no half-written character or line is ever delivered; the
archive holds exactly those bytes and more, so offsets carry across the live→archived
switch with every byte delivered once. A live read takes the log from byte 0 and slices
it here: Jenkins' own offsets count console annotations, ours count delivered bytes.

The run log is the archived step logs in the order the steps ended (the order sync
archives them), so it only ever grows at its end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sidecar.jenkins import JenkinsClient, JenkinsError
from sidecar.store.models import END_STATES, Execution, LogChunk, StepState

log = logging.getLogger(__name__)
DEFAULT_THRESHOLD_KB = 150


@dataclass(frozen=True)
class LogSlice:
    """What a log request answers: the bytes, where to continue, and if more may come."""

    body: bytes
    size: int
    more: bool


def window(text: bytes, start: int | None, *, complete: bool,
           threshold_kb: int = DEFAULT_THRESHOLD_KB) -> LogSlice:
    """Bytes from start (default: the last threshold_kb KB) to the end."""
    if start is None:
        start = len(text) - threshold_kb * 1024
    start = min(max(start, 0), len(text))
    return LogSlice(text[start:], len(text), not complete)


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
             jenkins: JenkinsClient | None) -> tuple[bytes, bool]:
    """A step's log and whether it is complete: archived, or live while it runs."""
    complete = row.state in (*END_STATES, "Skipped") or execution.state in END_STATES
    chunks = session.scalars(select(LogChunk).where(
        LogChunk.execution_id == execution.id, LogChunk.stage_index == row.stage_index,
        LogChunk.step_index == row.step_index).order_by(LogChunk.offset))
    archived = _join(chunks)
    if archived or complete or jenkins is None or not row.jenkins_node_id or \
            execution.jenkins_build is None or not execution.jenkins_job:
        return archived, complete
    try:
        chunk = jenkins.stage_log(execution.jenkins_job, execution.jenkins_build,
                                  row.jenkins_node_id, start=0)
    except JenkinsError as exc:  # Jenkins away: nothing new now, the client polls again
        log.warning("live log of %s %s-%s unavailable: %s", execution.id, row.stage_index,
                    row.step_index, exc)
        return b"", False
    text = chunk.text.encode("utf-8")
    return text[:text.rfind(b"\n") + 1], False


def _join(chunks) -> bytes:
    return "".join(chunk.text for chunk in chunks).encode("utf-8")
