"""A step's log in pages, by the same byte offsets as the API, for the run page to follow.

A page is at most ``PAGE`` bytes and ends after a newline where the log has one, so no
line or character is ever split between two pages. An archived log (the step ended) is
read from the chunks that overlap the page only — sync stores each chunk at its byte
offset — so the tail of a 10 MB log costs about one page of reading, not ten megabytes.
A step still running is read live from Jenkins through the read model
(``readmodel.logs.step_log``), which delivers whole lines only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sidecar.jenkins import JenkinsClient
from sidecar.readmodel import logs
from sidecar.store.models import END_STATES, Execution, LogChunk, StepState

PAGE = 64 * 1024


@dataclass(frozen=True)
class LogPage:
    """Bytes start..end of a log of size bytes; complete once the log cannot grow."""

    start: int
    end: int
    size: int
    complete: bool
    text: str
    marks: tuple[dict, ...] = ()
    """Live-log marks the read found (`readmodel.logs.remember` stores them)."""

    def as_json(self) -> dict:
        """What the page's script receives."""
        return {"start": self.start, "end": self.end, "size": self.size,
                "complete": self.complete, "text": self.text}


def page(session: Session, execution: Execution, row: StepState, jenkins: JenkinsClient | None,
         *, start: int | None = None, before: int | None = None, live: bool = True) -> LogPage:
    """The page from byte start, or the page that ends at byte before (default: the end).

    live False reads the archive only (the run page itself never waits for Jenkins).
    """
    complete = row.state in (*END_STATES, "Skipped") or execution.state in END_STATES
    marks: tuple[dict, ...] = ()
    if complete or row.log_offset:
        size, read = row.log_offset, (lambda a, b: _archived(session, row, a, b))
    elif live:  # from the nearest mark at or before start (following: the page's end)
        found = logs.step_log(session, execution, row, jenkins, start or 0)
        complete, size, marks = found.complete, found.size, found.marks
        read = lambda a, b: found.text[a - found.base:b - found.base]  # noqa: E731
    else:
        size, read = 0, (lambda a, b: b"")
    if start is not None:
        begin = min(max(start, 0), size)
        stop = min(begin + PAGE, size)
    else:
        stop = size if before is None else min(max(before, 0), size)
        begin = max(stop - PAGE, 0)
    data = read(begin, stop) if stop > begin else b""
    if start is None and begin > 0:  # read backwards: start at a line (or character) start
        cut = data.find(b"\n") + 1 if b"\n" in data[:-1] else 0
        while cut < len(data) and data[cut] & 0xC0 == 0x80:
            cut += 1
        data, begin = data[cut:], begin + cut
    if begin + len(data) < size and start is not None:  # end after a line or a character
        data = data[:data.rindex(b"\n") + 1] if b"\n" in data else \
            data.decode("utf-8", "ignore").encode("utf-8")
    return LogPage(begin, begin + len(data), size, complete, data.decode("utf-8", "replace"),
                   marks)


def _archived(session: Session, row: StepState, begin: int, stop: int) -> bytes:
    """Bytes begin..stop of an archived step log, read from the overlapping chunks only."""
    of_step = (LogChunk.execution_id == row.execution_id,
               LogChunk.stage_index == row.stage_index, LogChunk.step_index == row.step_index)
    first = session.scalar(select(func.max(LogChunk.offset))
                           .where(*of_step, LogChunk.offset <= begin)) or 0
    rows = session.execute(select(LogChunk.offset, LogChunk.text).where(
        *of_step, LogChunk.offset >= first, LogChunk.offset < stop).order_by(LogChunk.offset)).all()
    if not rows:
        return b""
    data, at = b"".join(text.encode("utf-8") for _, text in rows), rows[0].offset
    return data[begin - at:stop - at]
