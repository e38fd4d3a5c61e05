"""Blue Ocean logs by byte offset: live from Jenkins while a step runs, then archived.

We test these aspects, on SQLite and PostgreSQL, with the fake Jenkins growing the log:
- reading a running step's log by `start` offsets yields every byte once, in order,
  whole lines only (a character split across writes is never cut), with
  X-More-Data: true; the step ends, the archive takes over, and the next read at the
  last X-Text-Size continues exactly where the live reads stopped, without X-More-Data;
- the run log grows at its end as steps are archived;
- a node's log is its steps' logs one after another;
- following a running step costs Jenkins what was written since the last poll, not the
  whole log again: each poll asks Jenkins from the raw offset (console notes counted) of
  the nearest line end already read, which any worker of any replica finds in the
  database; the marks go once the log is archived;
- without `start`, the last 150 KB (or `thresholdInKB`) are sent, X-Text-Size being
  the whole size; `download=true` names an attachment.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

import blueocean_runs as runs
from fakes.jenkins import FakeJenkins, annotated
from sidecar.app import create_app
from sidecar.engine.loop import Engine
from sidecar.jenkins import JenkinsClient
from sidecar.store.models import LiveLogMark, LogChunk, StepState

LIVE_LOG = "/job/{name}/{number}/execution/node/{node}/log/logText/progressiveText"


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": runs.TOKEN}) as jenkins:
        yield jenkins


@pytest.fixture
def app(database_url, fake):
    app = create_app({"TESTING": True, "database_url": database_url})
    jenkins = JenkinsClient(url=fake.url, user="sidecar", token=runs.TOKEN)
    app.extensions["sidecar"].jenkins = jenkins
    yield app
    jenkins.close()
    app.extensions["sidecar"].store.dispose()


@pytest.fixture
def store(app):
    store = app.extensions["sidecar"].store
    runs.create_pipeline(store)
    return store


@pytest.fixture
def engine(app, store, templates):
    return Engine(store=store, jenkins=app.extensions["sidecar"].jenkins, templates=templates,
                  queue_wait=0)


def _read(client, href: str, start: int):
    response = client.get(f"{href}?start={start}")
    assert response.status_code == 200
    return response.data, int(response.headers["X-Text-Size"]), response.headers.get("X-More-Data")


def test_a_growing_step_log_is_read_once_in_order_across_the_archive_switch(
        app, store, engine, fake):
    client = app.test_client()
    run, build = runs.started(store, engine, fake)
    build.start_stage("step-0-0")
    engine.cycle()  # Jenkins reports the stage: the sidecar learns its log node
    href = f"{runs.BO_PIPELINE}runs/{run}/nodes/3/steps/5/log/"
    writes = [b"first line\n", b"second ", b"line\n", b"caf\xc3", b"\xa9 \xe2\x9c\x93\n",
              b"no newline yet", b" and now one\n" * 3000, b"last words"]
    received, offset, sizes = b"", 0, []
    for data in writes:
        build.stages["step-0-0"].log += data  # Jenkins writes bytes, split anywhere
        body, offset, more = _read(client, href, offset)
        received += body
        sizes.append(offset)
        assert more == "true"
        assert received == b"".join(writes)[:len(received)] and received.endswith(b"\n")
        assert offset == len(received)
    assert fake.request_counts[("GET", LIVE_LOG)] >= len(writes)
    build.finish_stage("step-0-0")
    body, offset, more = _read(client, href, offset)  # ended in Jenkins, not yet archived
    received += body
    assert more == "true"
    engine.cycle()  # the step's end and its archived log arrive together
    live_reads = fake.request_counts[("GET", LIVE_LOG)]
    body, offset, more = _read(client, href, offset)
    received += body
    assert (received, offset, more) == (b"".join(writes), len(b"".join(writes)), None)
    assert fake.request_counts[("GET", LIVE_LOG)] == live_reads  # served from the archive
    assert sizes == sorted(sizes)
    with store.session() as session:
        row = session.get(StepState, (f"{runs.PIPELINE}-{run}", 0, 0))
        assert row.jenkins_node_id == build.stages["step-0-0"].log_node_id
        chunks = session.scalars(select(LogChunk).where(
            LogChunk.execution_id == row.execution_id, LogChunk.step_index == 0)).all()
        assert "".join(c.text for c in chunks).encode() == received


def _jenkins_sent(fake, build, stage: str) -> int:
    """Raw log bytes Jenkins had to send for the latest live log request."""
    request = [r for r in fake.requests if r.path.endswith("/progressiveText")][-1]
    return len(annotated(bytes(build.stages[stage].log))) - int(request.query["start"])


def test_following_a_running_step_reads_only_what_is_new_from_jenkins(
        app, store, engine, fake, database_url):
    client = app.test_client()
    run, build = runs.started(store, engine, fake)
    build.start_stage("step-0-0")
    engine.cycle()
    href = f"{runs.BO_PIPELINE}runs/{run}/nodes/3/steps/5/log/"
    line = "compiling module {:04d}: " + "x" * 1000 + "\n"
    written, received, offset, sent = b"", b"", 0, []
    for n in range(57):  # the last write ends a line
        data = line.format(n).encode()
        if n % 7 == 3:  # Jenkins flushed half a line: it waits for its end
            data = data[:500]
        elif n % 7 == 4:
            data = line.format(n - 1).encode()[500:] + data
        build.stages["step-0-0"].log += data
        written += data
        body, offset, more = _read(client, href, offset)
        received += body
        sent.append(_jenkins_sent(fake, build, "step-0-0"))
        assert received == written[:len(received)] and offset == len(received)
    raw = len(annotated(written))
    # from byte 0 on every poll, Jenkins would have sent about 30 times the log
    assert sum(sent) < 2 * raw
    assert max(sent[1:]) < 3 * len(annotated(line.format(0).encode()))
    # another worker (or replica) continues from the same place
    other = create_app({"TESTING": True, "database_url": database_url})
    other.extensions["sidecar"].jenkins = app.extensions["sidecar"].jenkins
    build.stages["step-0-0"].log += b"from another worker\n"
    body, offset, _ = _read(other.test_client(), href, offset)
    other.extensions["sidecar"].store.dispose()
    assert body == b"from another worker\n" and offset == len(written) + len(body)
    assert _jenkins_sent(fake, build, "step-0-0") == len(annotated(b"from another worker\n"))
    with store.session() as session:
        assert session.scalars(select(LiveLogMark)).all()
    build.finish_stage("step-0-0")
    engine.cycle()  # archived: the marks are done with
    with store.session() as session:
        assert session.scalars(select(LiveLogMark)).all() == []


def test_the_run_log_grows_at_its_end(app, store, engine, fake):
    client = app.test_client()
    run, build = runs.started(store, engine, fake)
    href = f"{runs.BO_PIPELINE}runs/{run}/log/"
    runs.run_stage(build, "step-0-1")
    engine.cycle()
    first, offset, more = _read(client, href, 0)
    assert (first, more) == (b"output of step-0-1\n", "true")
    runs.run_stage(build, "step-0-0")
    runs.run_stage(build, "step-1-0")
    build.finish("SUCCESS")
    engine.cycle()
    rest, offset, more = _read(client, href, offset)
    assert (rest, more) == (b"output of step-0-0\noutput of step-1-0\n", None)
    assert offset == len(first + rest)
    node = client.get(f"{runs.BO_PIPELINE}runs/{run}/nodes/3/log/")
    assert node.data == b"output of step-0-0\noutput of step-0-1\n"
    assert node.headers["X-Text-Size"] == str(len(node.data)) and "X-More-Data" not in node.headers
    empty = client.get(f"{runs.BO_PIPELINE}runs/{run}/nodes/11/log")
    assert (empty.status_code, empty.data, empty.headers.get("X-Text-Size")) == (200, b"", None)


def test_without_start_the_tail_is_sent(app, store, engine, fake):
    client = app.test_client()
    run, build = runs.started(store, engine, fake)
    text = "".join(f"{n:07d}\n" for n in range(40_000))  # 320,000 bytes
    build.start_stage("step-0-0")
    build.append_log("step-0-0", text)
    build.finish_stage("step-0-0")
    engine.cycle()
    href = f"{runs.BO_PIPELINE}runs/{run}/steps/5/log/"
    tail = client.get(href)
    assert tail.data == text.encode()[-150 * 1024:]
    assert tail.headers["X-Text-Size"] == str(len(text))
    assert tail.headers["X-Text-Delivered"] == str(150 * 1024)
    small = client.get(href + "?thresholdInKB=1&download=true")
    assert small.data == text.encode()[-1024:]
    assert small.headers["Content-Disposition"] == "attachment; filename=log.txt"
    assert client.get(href + "?start=nope").status_code == 400
