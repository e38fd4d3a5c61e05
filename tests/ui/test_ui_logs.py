"""Log pages of the run page: byte offsets, whole lines, every byte once, in both directions.

We test these aspects, on SQLite and PostgreSQL, on a step log archived in chunks as sync
stores it (each chunk at its byte offset, multi-byte characters included):
- reading forward from 0, page after page, gives the whole log exactly; each page is at
  most 64 KB and ends after a newline;
- the last page, then the pages before it (`before` = the first byte shown), give the
  whole log exactly; each page starts at a line;
- a line longer than a page is cut at character boundaries only, and still comes whole;
- a step never started has an empty, incomplete log; offsets past the end give nothing.
"""

from __future__ import annotations

import pytest

from sidecar.services import executions, pipelines
from sidecar.store.models import LogChunk, StepState
from sidecar.ui import logs

CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: make}
  - runScriptConfig: {image: alpine, shellScript: make check}
"""


@pytest.fixture
def step(store):
    """An ended run whose first step's log is archived; yields (store, execution id, log)."""
    lines = [f"{n:05d} naïve café ✓ {'x' * (n % 90)}\n" for n in range(6000)]
    chunks = ["".join(lines[n:n + 700]) for n in range(0, len(lines), 700)]
    with store.session() as session:
        pipelines.create(session, {"project": "p", "name": "logs", "inlineConfig": CONFIG})
        execution = executions.trigger(session, "p:logs", executions.TriggerRequest())
        row = execution.steps[0]
        for chunk in chunks:
            session.add(LogChunk(execution_id=execution.id, stage_index=0, step_index=0,
                                 offset=row.log_offset, text=chunk))
            row.log_offset += len(chunk.encode())
        row.state = execution.steps[1].state = "Success"
        execution.state = "Success"
        execution_id = execution.id
    return store, execution_id, "".join(chunks).encode()


def _page(store, execution_id, stage=0, step=0, **where) -> logs.LogPage:
    with store.session() as session:
        execution = executions.get(session, execution_id)
        row = session.get(StepState, (execution_id, stage, step))
        return logs.page(session, execution, row, None, **where)


def test_forward_pages_give_the_whole_log_in_whole_lines(step):
    store, execution_id, log = step
    received, offset = b"", 0
    while True:
        page = _page(store, execution_id, start=offset)
        assert page.start == offset and page.size == len(log) and page.complete
        body = page.text.encode()
        assert len(body) <= logs.PAGE and page.end == offset + len(body)
        assert body.endswith(b"\n") or page.end == page.size
        received, offset = received + body, page.end
        if page.end == page.size:
            break
    assert received == log
    assert _page(store, execution_id, start=len(log) + 100).text == ""


def test_backward_pages_from_the_end_give_the_whole_log_from_line_starts(step):
    store, execution_id, log = step
    page = _page(store, execution_id)
    assert page.end == len(log) and 0 < page.start and log[page.start - 1:page.start] == b"\n"
    received = page.text.encode()
    while page.start:
        page = _page(store, execution_id, before=page.start)
        assert len(page.text.encode()) <= logs.PAGE
        assert page.start == 0 or log[page.start - 1:page.start] == b"\n"
        received = page.text.encode() + received
    assert received == log


def test_a_line_longer_than_a_page_is_cut_between_characters(store):
    text = "é" * (logs.PAGE * 2 // 3) + "\nend\n"  # 2 bytes each: a line of ~1.3 pages
    with store.session() as session:
        pipelines.create(session, {"project": "p", "name": "long", "inlineConfig": CONFIG})
        execution = executions.trigger(session, "p:long", executions.TriggerRequest())
        session.add(LogChunk(execution_id=execution.id, stage_index=0, step_index=0, offset=0,
                             text=text))
        execution.steps[0].log_offset, execution.steps[0].state = len(text.encode()), "Success"
        execution_id = execution.id
    first = _page(store, execution_id, start=0)
    assert first.text == "é" * (logs.PAGE // 2) and first.end == logs.PAGE
    rest = _page(store, execution_id, start=first.end)
    assert first.text + rest.text == text


def test_a_step_not_started_has_an_empty_open_log(step):
    store, execution_id, _ = step
    with store.session() as session:
        executions.get(session, execution_id).state = "Building"
        session.get(StepState, (execution_id, 0, 1)).state = "Waiting"
    page = _page(store, execution_id, step=1, start=0)
    assert (page.text, page.size, page.complete) == ("", 0, False)
