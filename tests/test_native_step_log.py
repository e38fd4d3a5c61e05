"""The native API's step log reads live while the step runs, and shows the Jenkins build.

We test these aspects, on SQLite and PostgreSQL, with the fake Jenkins growing the log:
- `GET /api/v1/executions/{id}/steps/{stage}/{step}/log?start=N` of a running step reads
  the step's flow node log from Jenkins (whole lines only) with X-Text-Size and
  X-More-Data; once the step ended and was archived, the same offsets give
  byte-identical content from the archive (multi-byte characters included);
- without `start` the whole log, as before; a bad `start` is a 400;
- the execution JSON carries `jenkinsBuildUrl`, derived from the stored job and build
  number and the configured Jenkins URL: null before the build exists.
"""

from __future__ import annotations

import pytest

import blueocean_runs as runs
from fakes.jenkins import FakeJenkins
from sidecar.app import create_app
from sidecar.engine.loop import Engine

LIVE_LOG = ("GET", "/job/{name}/{number}/execution/node/{node}/log/logText/progressiveText")


@pytest.fixture
def fake():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": runs.TOKEN}) as jenkins:
        yield jenkins
    assert jenkins.errors == []


@pytest.fixture
def app(database_url, fake):
    app = create_app({"TESTING": True, "database_url": database_url, "jenkins_url": fake.url,
                      "jenkins_user": "sidecar", "jenkins_token": runs.TOKEN})
    yield app
    app.extensions["sidecar"].jenkins.close()
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


def _read(client, href: str, start: int | None):
    response = client.get(href if start is None else f"{href}?start={start}")
    assert response.status_code == 200, response.data
    return response.data, response.headers


def test_a_running_steps_log_reads_live_with_the_archives_offsets(app, store, engine, fake):
    client = app.test_client()
    run, build = runs.started(store, engine, fake)
    build.start_stage("step-0-0")
    engine.cycle()  # Jenkins reports the stage: the sidecar learns its log node
    href = f"/api/v1/executions/{runs.PIPELINE}-{run}/steps/0/0/log"
    stage = build.stages["step-0-0"]
    stage.log += "compiling café ✓\nsecond line\nhalf a li".encode()
    before = fake.request_counts[LIVE_LOG]
    live, headers = _read(client, href, 0)
    assert fake.request_counts[LIVE_LOG] == before + 1  # read from Jenkins
    assert live == "compiling café ✓\nsecond line\n".encode()  # whole lines only
    assert (headers["X-Text-Size"], headers["X-More-Data"], headers["X-Log-Complete"]) == (
        str(len(live)), "true", "false")
    middle = live.index(b"\xc3\xa9") + 2  # just after the é
    live_from_middle, _ = _read(client, href, middle)
    assert live_from_middle == live[middle:]

    stage.log += b"ne\nlast words\n"
    build.finish_stage("step-0-0")
    engine.cycle()  # the step ends and its log is archived
    reads = fake.request_counts[LIVE_LOG]
    archived, headers = _read(client, href, 0)
    assert fake.request_counts[LIVE_LOG] == reads  # served from the archive
    assert archived == bytes(stage.log)
    assert headers["X-Log-Complete"] == "true" and "X-More-Data" not in headers
    # Byte-identical at the same offsets: the live read is a prefix of the archive.
    assert archived[:len(live)] == live
    for start in (0, middle, len(live)):
        from_archive, headers = _read(client, href, start)
        assert from_archive == archived[start:]
        assert int(headers["X-Text-Size"]) == len(archived)
        if start < len(live):
            assert from_archive[:len(live) - start] == live[start:]
    assert _read(client, href, None)[0] == archived  # no start: the whole log


def test_a_bad_start_is_a_400(app, store, engine, fake):
    run, _ = runs.started(store, engine, fake)
    response = app.test_client().get(
        f"/api/v1/executions/{runs.PIPELINE}-{run}/steps/0/0/log?start=-1")
    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == ["start"]


def test_the_execution_shows_its_jenkins_build_url(app, store, engine, fake):
    client = app.test_client()
    run = runs.trigger(store)
    execution_id = f"{runs.PIPELINE}-{run}"
    assert client.get(f"/api/v1/executions/{execution_id}").json["jenkinsBuildUrl"] is None
    engine.cycle()
    build = runs.build_of(fake, run)
    shown = client.get(f"/api/v1/executions/{execution_id}").json
    assert shown["jenkinsBuildUrl"] == f"{fake.url}/job/sidecar.shop.web/{build.number}/"
    assert shown["jenkins"]["build"] == build.number
    listed = client.get("/api/v1/executions").json
    assert [e["jenkinsBuildUrl"] for e in listed] == [shown["jenkinsBuildUrl"]]
