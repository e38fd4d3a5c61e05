"""The Jenkins client against a fake Jenkins that speaks real HTTP.

We test these aspects:
- jobs: create (``createItem`` with an XML body), update (``config.xml``), exists, delete,
  names that need URL quoting;
- triggering: the queue id comes from the ``Location`` header, the build number from the
  queue item, never from ``lastBuild``; parameters; cancelling; forgotten queue items;
- following a run: status, stages and errors from ``wfapi/describe``, one request per call;
  every running build of every job in one ``/computer/api/json`` request (a run listed by
  its flyweight and its agent executor once, idle executors skipped, folder and context
  path URLs read); labelled steps are log nodes with their label as name;
- progressive logs: reading by ``X-Text-Size`` offsets yields every byte once, in order;
- inputs: pending inputs, proceed with and without parameters, abort; stopping a build;
- jenkinsapi underneath: every call costs the requests it cost on plain HTTP (no eager
  polls of the root, jobs, builds or queue items), a Location on Jenkins' configured root
  URL is read, jenkinsapi's exceptions become ours without the form data they quote;
- auth: API token (no crumb) versus password + crumb (jenkinsapi's CrumbRequester) +
  session cookie, crumb refetched once after the session expired, no crumb issuer;
- errors: 401/403/404/5xx, refused connections, timeouts and non-JSON answers become our
  types, nothing from ``requests`` escapes, and messages hold no secrets and no long bodies.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

import pytest
import requests

from fakes.jenkins import FakeJenkins, annotated
from sidecar.errors import SidecarError
from sidecar.jenkins import (JenkinsAuthError, JenkinsClient, JenkinsError, JenkinsNotFound,
                             JenkinsRequestError, JenkinsUnavailable, models)
from sidecar.jenkins.client import RUNNING_TREE

JOB = "app #1 ü%"  # needs quoting in a URL path
DESCRIBE = ("GET", "/job/{name}/{number}/wfapi/describe")
CRUMB = ("GET", "/crumbIssuer/api/python")
NODE_LOG = ("GET", "/job/{name}/{number}/execution/node/{node}/log/logText/progressiveText")


def config_xml(script: str, *, parameters: tuple[str, ...] = ("EXECUTION",)) -> str:
    """A WorkflowJob config.xml as Jenkins stores it."""
    definitions = "".join(
        "<hudson.model.StringParameterDefinition>"
        f"<name>{name}</name><defaultValue></defaultValue><trim>false</trim>"
        "</hudson.model.StringParameterDefinition>" for name in parameters)
    prop = "hudson.model.ParametersDefinitionProperty"
    properties = (f"<{prop}><parameterDefinitions>{definitions}</parameterDefinitions></{prop}>"
                  if parameters else "")
    return ("<?xml version='1.1' encoding='UTF-8'?>\n<flow-definition plugin=\"workflow-job\">"
            f"<properties>{properties}</properties>"
            "<definition class=\"org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition\">"
            f"<script>{escape(script)}</script><sandbox>true</sandbox></definition>"
            "<disabled>false</disabled></flow-definition>")


@pytest.fixture
def fake():
    with FakeJenkins() as server:
        yield server
    assert server.errors == []
    assert not any("lastBuild" in request.path for request in server.requests)


@pytest.fixture
def client(fake):
    with JenkinsClient(url=fake.url, timeout=5) as jenkins:
        yield jenkins


@pytest.fixture
def build(fake, client):
    """A started build of JOB with one running stage."""
    client.create_or_update_job(JOB, config_xml("node { sh 'make' }"))
    queue_id = client.trigger(JOB, {"EXECUTION": "e-1"})
    started, = fake.start_queued(queue_id)
    started.start_stage("Build")
    return started


def requests_during(fake, action):
    """The request counts an action caused."""
    before = fake.request_counts.copy()
    action()
    return fake.request_counts - before


# -- jobs -----------------------------------------------------------------------------------

def test_ping_reads_the_version_header(client):
    assert client.ping() == "2.479.3"


def test_create_then_update_a_job(fake, client):
    assert not client.job_exists(JOB)
    assert client.create_or_update_job(JOB, config_xml("echo 'v1'")) is True
    create = next(r for r in fake.requests if r.path == "/createItem")
    assert create.query == {"name": JOB}
    assert create.headers["Content-Type"] == "text/xml"
    assert fake.jobs[JOB].script == "echo 'v1'"

    assert client.create_or_update_job(JOB, config_xml("echo 'v2' & <more>")) is False
    assert fake.jobs[JOB].script == "echo 'v2' & <more>"
    assert fake.request_counts[("POST", "/createItem")] == 1
    assert fake.request_counts[("POST", "/job/{name}/config.xml")] == 1
    assert client.job_exists(JOB)


def test_a_config_with_any_characters_arrives_intact(fake, client):
    script = "echo 'ü 漢字 ✓ 😀'"
    client.create_or_update_job(JOB, config_xml(script))
    assert fake.jobs[JOB].script == script
    client.create_or_update_job(JOB, config_xml(script + " again"))
    assert fake.jobs[JOB].script == script + " again"


def test_delete_a_job_twice(fake, client):
    client.create_or_update_job(JOB, config_xml("echo 1"))
    client.delete_job(JOB)
    client.delete_job(JOB)
    assert JOB not in fake.jobs
    assert not client.job_exists(JOB)


# -- trigger, queue, build number -----------------------------------------------------------

def test_trigger_follows_the_queue_item_to_the_build_number(fake, client):
    client.create_or_update_job(JOB, config_xml("echo 'first'"))
    fake.jobs[JOB].next_build_number = 41  # numbers are Jenkins', not ours
    queue_id = client.trigger(JOB, {"EXECUTION": "e-1"})

    waiting = client.queue_item(queue_id)
    assert (waiting.cancelled, waiting.build_number) == (False, None)
    assert waiting.why == "Waiting for next available executor"

    client.create_or_update_job(JOB, config_xml("echo 'second'"))
    fake.start_queued()
    left = client.queue_item(queue_id)
    assert (left.cancelled, left.build_number, left.why) == (False, 41, None)
    build = fake.builds[(JOB, 41)]
    assert build.parameters == {"EXECUTION": "e-1"}
    assert build.script == "echo 'second'"  # the config when the build left the queue
    assert fake.request_counts[("POST", "/job/{name}/buildWithParameters")] == 1


def test_trigger_without_parameters_uses_build(fake, client):
    client.create_or_update_job(JOB, config_xml("echo 1", parameters=()))
    queue_id = client.trigger(JOB, {})
    assert fake.request_counts[("POST", "/job/{name}/build")] == 1
    assert fake.queue[queue_id].parameters == {}


def test_identical_waiting_triggers_share_a_queue_item(client):
    client.create_or_update_job(JOB, config_xml("echo 1"))
    first = client.trigger(JOB, {"EXECUTION": "e-1"})
    assert client.trigger(JOB, {"EXECUTION": "e-1"}) == first
    assert client.trigger(JOB, {"EXECUTION": "e-2"}) != first


def test_cancel_a_queue_item(fake, client):
    client.create_or_update_job(JOB, config_xml("echo 1"))
    queue_id = client.trigger(JOB, {"EXECUTION": "e-1"})
    client.cancel_queue_item(queue_id)
    client.cancel_queue_item(queue_id)
    state = client.queue_item(queue_id)
    assert (state.cancelled, state.build_number) == (True, None)
    assert fake.start_queued() == []


def test_with_auto_start_a_build_starts_at_once():
    with FakeJenkins(auto_start=True) as server, JenkinsClient(url=server.url) as jenkins:
        jenkins.create_or_update_job(JOB, config_xml("echo 1"))
        first = jenkins.trigger(JOB, {"EXECUTION": "e-1"})
        second = jenkins.trigger(JOB, {"EXECUTION": "e-1"})  # nothing waits: no merging
        assert [jenkins.queue_item(i).build_number for i in (first, second)] == [1, 2]
        assert sorted(server.builds) == [(JOB, 1), (JOB, 2)]
    assert server.errors == []


def test_a_forgotten_queue_item_is_not_found(fake, client):
    client.create_or_update_job(JOB, config_xml("echo 1"))
    queue_id = client.trigger(JOB, {"EXECUTION": "e-1"})
    fake.start_queued()
    fake.forget_queue_item(queue_id)
    with pytest.raises(JenkinsNotFound):
        client.queue_item(queue_id)


# -- following a run ------------------------------------------------------------------------

def test_run_state_is_one_request_per_call(fake, client, build):
    states = []
    follow = lambda: states.append(client.run_state(JOB, build.number))  # noqa: E731
    assert requests_during(fake, follow) == {DESCRIBE: 1}

    build.finish_stage("Build", "SUCCESS")
    build.start_stage("Test")
    build.finish_stage("Test", "FAILED", error="3 tests failed")
    build.finish("FAILED")
    assert requests_during(fake, follow) == {DESCRIBE: 1}

    running, finished = states
    assert running.status == "IN_PROGRESS" and not running.finished
    assert [(s.name, s.status) for s in running.stages] == [("Build", "IN_PROGRESS")]
    assert finished.status == "FAILED" and finished.finished
    assert [(s.name, s.status, s.error) for s in finished.stages] == [
        ("Build", "SUCCESS", None), ("Test", "FAILED", "3 tests failed")]
    assert all(s.duration_millis >= 0 and s.start_time_millis > 0 for s in finished.stages)


def test_running_builds_are_one_request_for_all_jobs(fake, client, build):
    """A run shows twice (flyweight and agent executor); idle executors are null."""
    client.create_or_update_job("other", config_xml("node { sh 'make' }"))
    paused, done = fake.start_queued(client.trigger("other", {"EXECUTION": "e-2"}),
                                     client.trigger("other", {"EXECUTION": "e-3"}))
    paused.start_stage("Approve")
    paused.pause_for_input("Ok", "Go on?")
    done.finish("SUCCESS")
    seen = []
    assert requests_during(fake, lambda: seen.append(client.running_builds())) == {
        ("GET", "/computer/api/json"): 1}
    assert seen == [frozenset({(JOB, build.number), ("other", paused.number)})]
    assert fake.requests[-1].query == {"tree": RUNNING_TREE}
    build.finish("SUCCESS")
    assert client.running_builds() == {("other", paused.number)}


def test_running_builds_read_folders_context_paths_and_relative_urls():
    run = "org.jenkinsci.plugins.workflow.job.WorkflowRun"
    doc = {"_class": "hudson.model.ComputerSet", "computer": [
        {"_class": "hudson.model.Hudson$MasterComputer", "executors": [], "oneOffExecutors": [
            {"_class": "hudson.model.OneOffExecutor", "currentExecutable": {
                "_class": run, "number": 7,
                "url": "https://ci.example.com/jenkins/job/team/job/app%20x/7/"}}]},
        {"_class": "hudson.slaves.SlaveComputer", "oneOffExecutors": [], "executors": [
            {"_class": "hudson.model.Executor", "currentExecutable": None},
            {"_class": "hudson.model.Executor", "currentExecutable": {
                "_class": "PlaceholderExecutable", "number": 3, "url": "job/job/3/"}},
            {"_class": "hudson.model.Executor", "currentExecutable": {
                "_class": "PlaceholderExecutable", "number": None, "url": ""}}]}]}
    assert models.running_builds(doc) == {("team/app x", 7), ("job", 3)}
    with pytest.raises(ValueError):
        models.running_builds({"computer": ["not a computer"]})


def test_a_step_labelled_report_is_a_log_node_with_its_name(client, build):
    build.report("Build", "jenkins-sidecar report", "reported\n")
    (stage,) = client.run_state(JOB, build.number).stages
    assert [(n.id, n.name) for n in stage.log_nodes] == [
        (stage.log_node_ids[0], "Shell Script"), (stage.log_node_ids[1], "jenkins-sidecar report")]
    assert client.stage_log(JOB, build.number, stage.log_node_ids[1]).text == "reported\n"


def test_an_unknown_build_is_not_found(client, build):
    with pytest.raises(JenkinsNotFound):
        client.run_state(JOB, build.number + 1)


# -- progressive logs -----------------------------------------------------------------------

def test_progressive_log_yields_every_byte_once_in_order(fake, client, build):
    pieces = ["+ make\n", "compiling ü and 漢字…\n", "", "x" * 70_000 + "\n", "done\n"]
    node = client.run_state(JOB, build.number).stages[0].log_node_ids[0]
    offset, read = 0, []
    for piece in pieces:
        build.append_log("Build", piece)
        chunk = client.stage_log(JOB, build.number, node, start=offset)
        assert chunk.more
        read.append(chunk.text)
        offset = chunk.next_start
    build.finish_stage("Build", "SUCCESS")
    while True:
        before = fake.request_counts[NODE_LOG]
        chunk = client.stage_log(JOB, build.number, node, start=offset)
        assert fake.request_counts[NODE_LOG] == before + 1
        read.append(chunk.text)
        offset = chunk.next_start
        if not chunk.more:
            break
    assert "".join(read) == "".join(pieces)
    # the offset counts Jenkins' raw log, console notes included, not the text
    assert offset == len(annotated("".join(pieces).encode())) > len("".join(pieces).encode())


def test_a_stage_node_has_no_log_of_its_own(client, build):
    stage = client.run_state(JOB, build.number).stages[0]
    with pytest.raises(JenkinsNotFound):
        client.stage_log(JOB, build.number, stage.id)


# -- inputs and stop ------------------------------------------------------------------------

def test_pending_input_and_proceed_without_parameters(fake, client, build):
    build.pause_for_input("Deploy-to-prod", "Deploy to production?", ok="Ship it")
    assert client.run_state(JOB, build.number).status == "PAUSED_PENDING_INPUT"
    pending, = client.pending_inputs(JOB, build.number)
    assert (pending.id, pending.message, pending.proceed_text, pending.inputs) == (
        "Deploy-to-prod", "Deploy to production?", "Ship it", ())
    assert pending.abort_url.endswith("/input/Deploy-to-prod/abort")

    client.proceed_input(JOB, build.number, pending.id, {})
    assert fake.request_counts[("POST", "/job/{name}/{number}/input/{input}/proceedEmpty")] == 1
    assert [(a.input_id, a.action) for a in build.answers] == [("Deploy-to-prod", "proceed")]
    assert client.pending_inputs(JOB, build.number) == []
    assert client.run_state(JOB, build.number).status == "IN_PROGRESS"


def test_proceed_with_parameters(fake, client, build):
    build.pause_for_input("Release", "Which version?", parameters={"VERSION": "1.0"})
    field, = client.pending_inputs(JOB, build.number)[0].inputs
    assert (field.name, field.default) == ("VERSION", "1.0")
    client.proceed_input(JOB, build.number, "Release", {"VERSION": "1.1", "NOTES": "a&b=c"})
    assert fake.request_counts[("POST", "/job/{name}/{number}/input/{input}/proceed")] == 1
    assert build.answers[0].parameters == {"VERSION": "1.1", "NOTES": "a&b=c"}


def test_abort_input_aborts_the_build(client, build):
    build.pause_for_input("Ok", "Go on?")
    client.abort_input(JOB, build.number, "Ok")
    assert [a.action for a in build.answers] == ["abort"]
    assert client.run_state(JOB, build.number).status == "ABORTED"
    with pytest.raises(JenkinsNotFound):
        client.proceed_input(JOB, build.number, "Ok", {})


def test_stop_a_build(fake, client, build):
    assert requests_during(fake, lambda: client.stop(JOB, build.number)) == {
        ("POST", "/job/{name}/{number}/stop"): 1}  # the redirect is not followed
    assert build.stop_requested
    state = client.run_state(JOB, build.number)
    assert state.status == "ABORTED"
    assert [s.status for s in state.stages] == ["ABORTED"]


# -- jenkinsapi underneath -----------------------------------------------------------------

def test_each_call_costs_what_it_did_on_plain_http(secured):
    """jenkinsapi's objects are made without their eager polls; trees keep answers small."""
    fake = secured
    with JenkinsClient(url=fake.url, user="alice", token="11aa22bb33cc") as client:
        _each_call_once(fake, client)
    # Nothing read the root (every job) or a whole job, build or queue item.
    assert all(r.query.get("tree") for r in fake.requests if "/api/" in r.path)


def _each_call_once(fake, client):
    job, queue_item = ("GET", "/job/{name}/api/python"), ("GET", "/queue/item/{id}/api/python")
    assert requests_during(fake, lambda: client.create_or_update_job(JOB, config_xml("1"))) == {
        job: 1, ("POST", "/createItem"): 1}
    assert requests_during(fake, lambda: client.create_or_update_job(JOB, config_xml("2"))) == {
        job: 1, ("POST", "/job/{name}/config.xml"): 1}
    assert requests_during(fake, lambda: client.job_exists(JOB)) == {job: 1}
    queue_ids = []
    assert requests_during(fake, lambda: queue_ids.append(client.trigger(JOB, {"EXECUTION": "e"}))
                           ) == {("POST", "/job/{name}/buildWithParameters"): 1}
    assert requests_during(fake, lambda: client.queue_item(queue_ids[0])) == {queue_item: 1}
    assert fake.requests[-1].query == {"tree": "cancelled,why,executable[number]"}
    assert requests_during(fake, lambda: client.cancel_queue_item(queue_ids[0])) == {
        ("POST", "/queue/cancelItem"): 1}
    build, = fake.start_queued(client.trigger(JOB, {"EXECUTION": "f"}))
    build.start_stage("Build")
    build.pause_for_input("Ok", "Go on?")
    assert requests_during(fake, lambda: client.pending_inputs(JOB, build.number)) == {
        ("GET", "/job/{name}/{number}/wfapi/pendingInputActions"): 1}
    assert requests_during(fake, lambda: client.proceed_input(JOB, build.number, "Ok", {})) == {
        ("POST", "/job/{name}/{number}/input/{input}/proceedEmpty"): 1}
    build.pause_for_input("No", "Go on?")
    assert requests_during(fake, lambda: client.abort_input(JOB, build.number, "No")) == {
        ("POST", "/job/{name}/{number}/input/{input}/abort"): 1}
    assert requests_during(fake, lambda: client.delete_job(JOB)) == {
        ("POST", "/job/{name}/doDelete"): 1}


def test_a_location_on_jenkins_configured_root_url_is_read(fake, client):
    fake.root_url = "https://ci.example.com/jenkins"  # not the URL the sidecar uses
    client.create_or_update_job(JOB, config_xml("echo 1"))
    queue_id = client.trigger(JOB, {"EXECUTION": "e-1"})
    assert queue_id in fake.queue
    assert client.queue_item(queue_id).why == "Waiting for next available executor"


def test_jenkinsapi_errors_become_ours_without_the_form_data(fake, client):
    client.create_or_update_job(JOB, config_xml("echo 1"))
    queue_id = client.trigger(JOB, {"EXECUTION": "e-1"})
    fake.fail_with(200, body="<html><body>Please sign in</body></html>")
    with pytest.raises(JenkinsRequestError) as caught:
        client.queue_item(queue_id)
    assert caught.value.path == f"/queue/item/{queue_id}"
    fake.fail_with(302, body="")  # jenkinsapi refuses it, quoting the form data
    with pytest.raises(JenkinsRequestError) as caught:
        client.trigger(JOB, {"EXECUTION": "secret-value-1"})
    assert "secret-value-1" not in str(caught.value)
    fake.recover()


# -- auth -----------------------------------------------------------------------------------

@pytest.fixture
def secured():
    with FakeJenkins(users={"bob": "s3cret-pw"}, api_tokens={"alice": "11aa22bb33cc"}) as server:
        yield server
    assert server.errors == []


def test_api_token_needs_no_crumb(secured):
    with JenkinsClient(url=secured.url, user="alice", token="11aa22bb33cc") as jenkins:
        jenkins.create_or_update_job(JOB, config_xml("echo 1"))
        jenkins.trigger(JOB, {"EXECUTION": "e-1"})
    assert secured.request_counts[CRUMB] == 0
    posts = [r for r in secured.requests if r.method == "POST"]
    assert posts and not any("Jenkins-Crumb" in r.headers for r in posts)
    assert all(r.headers["Authorization"].startswith("Basic ") for r in secured.requests)


def test_password_uses_one_crumb_per_session_with_its_cookie(secured):
    with JenkinsClient(url=secured.url, user="bob", password="s3cret-pw") as jenkins:
        jenkins.create_or_update_job(JOB, config_xml("echo 1"))
        jenkins.trigger(JOB, {"EXECUTION": "e-1"})
        jenkins.trigger(JOB, {"EXECUTION": "e-2"})
        assert secured.request_counts[CRUMB] == 1
        posts = [r for r in secured.requests if r.method == "POST"]
        assert len(posts) == 3
        assert all("Jenkins-Crumb" in r.headers and "JSESSIONID" in r.headers["Cookie"]
                   for r in posts)

        secured.expire_sessions()  # Jenkins restarted: the crumb is stale, refetch once
        jenkins.trigger(JOB, {"EXECUTION": "e-3"})
        assert secured.request_counts[CRUMB] == 2
        assert len(secured.queue) == 3


def test_no_crumb_or_secret_in_the_debug_log(secured, caplog):
    caplog.set_level(logging.DEBUG)
    with JenkinsClient(url=secured.url, user="bob", password="s3cret-pw") as jenkins:
        jenkins.create_or_update_job(JOB, config_xml("echo 1"))
        jenkins.trigger(JOB, {"EXECUTION": "value-of-e-1"})
    crumbs = {r.headers["Jenkins-Crumb"] for r in secured.requests if "Jenkins-Crumb" in r.headers}
    assert crumbs and caplog.records  # jenkinsapi and urllib3 did log at DEBUG
    for secret in (*crumbs, "s3cret-pw", "value-of-e-1"):
        assert secret not in caplog.text


def test_password_without_a_crumb_issuer(secured):
    secured.crumbs = False
    with JenkinsClient(url=secured.url, user="bob", password="s3cret-pw") as jenkins:
        jenkins.create_or_update_job(JOB, config_xml("echo 1"))
        jenkins.create_or_update_job(JOB, config_xml("echo 2"))
    assert secured.request_counts[CRUMB] == 1  # 404 once: no crumbs, and none asked again
    assert secured.jobs[JOB].script == "echo 2"


@pytest.mark.parametrize("user, secret", [("alice", "wrong-token"), ("mallory", "s3cret-pw")])
def test_bad_credentials_are_an_auth_error_without_the_secret(secured, user, secret):
    with JenkinsClient(url=secured.url, user=user, token=secret) as jenkins:
        with pytest.raises(JenkinsAuthError) as caught:
            jenkins.ping()
    assert caught.value.status == 401
    assert secret not in str(caught.value) and secret not in repr(caught.value)


def test_anonymous_access_to_a_secured_jenkins_is_an_auth_error(secured):
    with JenkinsClient(url=secured.url) as jenkins:
        with pytest.raises(JenkinsAuthError) as caught:
            jenkins.job_exists(JOB)
    assert caught.value.status == 403


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status, kind", [
    (400, JenkinsRequestError), (401, JenkinsAuthError), (403, JenkinsAuthError),
    (404, JenkinsNotFound), (409, JenkinsRequestError), (500, JenkinsRequestError),
    (502, JenkinsUnavailable), (503, JenkinsUnavailable), (504, JenkinsUnavailable),
])
def test_status_codes_map_to_our_errors(fake, client, status, kind):
    fake.fail_with(status)
    with pytest.raises(kind) as caught:
        client.run_state(JOB, 1)
    assert type(caught.value) is kind
    assert caught.value.status == status
    assert caught.value.path == "/job/app%20%231%20%C3%BC%25/1/wfapi/describe"
    assert "<" not in str(caught.value)  # the HTML page is reduced to its text
    fake.recover()
    with pytest.raises(JenkinsNotFound):
        client.run_state(JOB, 1)


def test_bodies_are_cut_and_secrets_redacted(fake):
    fake.fail_with(500, body="token=11aa22bb33cc " + "x" * 1000)
    with JenkinsClient(url=fake.url, user="alice", token="11aa22bb33cc") as jenkins:
        with pytest.raises(JenkinsRequestError) as caught:
            jenkins.ping()
    assert "11aa22bb33cc" not in str(caught.value)
    assert "token=***" in caught.value.body
    assert len(caught.value.body) <= 256


def test_an_answer_that_is_not_json_is_a_request_error(fake, client, build):
    fake.fail_with(200, body="<html><body>Please sign in</body></html>")
    with pytest.raises(JenkinsRequestError) as caught:
        client.run_state(JOB, build.number)
    assert isinstance(caught.value.__cause__, ValueError)


def test_refused_connections_are_unavailable_until_recovery(fake, client, build):
    fake.refuse_connections()
    with pytest.raises(JenkinsUnavailable) as caught:
        client.run_state(JOB, build.number)
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    fake.recover()
    assert client.run_state(JOB, build.number).status == "IN_PROGRESS"


def test_a_timeout_is_unavailable(fake):
    with JenkinsClient(url=fake.url, timeout=0.2) as jenkins:
        fake.stall()
        with pytest.raises(JenkinsUnavailable) as caught:
            jenkins.ping()
        fake.recover()
        assert jenkins.ping() == "2.479.3"
    assert isinstance(caught.value.__cause__, requests.Timeout)


def test_no_requests_exception_escapes(fake):
    assert not issubclass(JenkinsError, requests.RequestException)
    assert issubclass(JenkinsError, SidecarError)
    fake.stop()  # nothing listens on the port any more
    with JenkinsClient(url=fake.url) as jenkins:
        for call in (jenkins.ping, lambda: jenkins.trigger(JOB, {"A": "b"}),
                     lambda: jenkins.stage_log(JOB, 1, "4")):
            with pytest.raises(JenkinsError) as caught:
                call()
            assert type(caught.value) is JenkinsUnavailable
            assert not isinstance(caught.value, requests.RequestException)
