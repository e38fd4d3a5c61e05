"""The only code that talks to Jenkins: jobs, the queue, run state, step logs and inputs.

jenkinsapi where it has the call: jobs (create, ``config.xml``, existence, delete), the
trigger's parameter encoding, queue items, cancelling, pending inputs, proceeding and
aborting them. Its objects poll Jenkins as soon as they are made (a ``Job`` fetches its
whole JSON, a ``Build`` its JSON at depth 1, the ``Jenkins`` root every job): here they are
made without a request (``_unpolled``) and asked with a ``tree`` when something is needed,
so each call costs what it did on plain HTTP. What jenkinsapi lacks (``wfapi``, step logs,
input parameters, the batched ``tree`` queries over all computers, the queue and a job's
builds) goes through the same requester directly (``Transport.request``).

Builds are followed through their queue item (the trigger's ``Location`` header), never
through ``lastBuild``, and each state query is one request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import requests
from jenkinsapi.build import Build
from jenkinsapi.custom_exceptions import JenkinsAPIException
from jenkinsapi.job import Job
from jenkinsapi.queue import Queue, QueueItem

from sidecar.jenkins import models
from sidecar.jenkins.errors import JenkinsNotFound, JenkinsRequestError
from sidecar.jenkins.models import InputRequest, LogChunk, QueueState, RunState
from sidecar.jenkins.transport import Transport, parse, parse_json

_QUEUE_ITEM = re.compile(r"/queue/item/(\d+)/?$")
_EXECUTABLE = "currentExecutable[url,number]"
RUNNING_TREE = f"computer[executors[{_EXECUTABLE}],oneOffExecutors[{_EXECUTABLE}]]"
QUEUE_ITEM_TREE = "cancelled,why,executable[number]"


class JenkinsClient:
    """Jenkins through jenkinsapi (lazily) and its requester: jobs, queue, runs, logs, inputs."""

    def __init__(self, *, url: str, user: str = "", token: str = "", password: str = "",
                 timeout: float = 10.0, session: requests.Session | None = None):
        self._http = Transport(url=url, user=user, token=token, password=password,
                               timeout=timeout, session=session)
        self.user = user
        """The Jenkins user requests act as; empty when anonymous."""
        self._jenkins = self._http.jenkins
        self._request = self._http.request  # every request goes through this choke point

    def __repr__(self) -> str:
        return f"JenkinsClient(url={self._http.base!r})"

    def __enter__(self) -> JenkinsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        self._http.close()

    def build_url(self, name: str, number: int) -> str:
        """The build's page in Jenkins (no request)."""
        return build_url(self._http.base, name, number)

    def ping(self) -> str:
        """Jenkins' version, from the ``X-Jenkins`` header of ``GET /api/json?tree=mode``."""
        # jenkinsapi's Jenkins.version fetches the whole HTML front page for that header.
        response = self._request("GET", "/api/json", params={"tree": "mode"})
        version = response.headers.get("X-Jenkins")
        if not version:
            raise JenkinsRequestError("the answer has no X-Jenkins header; is this Jenkins?",
                                      method="GET", path="/api/json")
        return version

    def job_exists(self, name: str) -> bool:
        """Whether the job exists (and is visible to our user)."""
        try:
            with _jenkinsapi("GET", _job(name)):
                self._job(name).poll(tree="name")
        except JenkinsNotFound:
            return False
        return True

    def create_or_update_job(self, name: str, config_xml: str) -> bool:
        """Create the job from ``config_xml``, or replace its config; True when it was created."""
        # Not Jenkins.create_job: it lists every job (and every folder's) to see if it exists.
        if not self.job_exists(name):
            try:
                # UTF-8 bytes, whatever the HTTP library does with a str body.
                with _jenkinsapi("POST", "/createItem"):
                    self._jenkins.requester.post_xml_and_confirm_status(
                        self._jenkins.get_create_url(), params={"name": name},
                        data=config_xml.encode("utf-8"))
                return True
            except JenkinsRequestError as exc:
                # 400 "A job already exists": someone created it since we looked.
                if exc.status != 400 or not self.job_exists(name):
                    raise
        with _jenkinsapi("POST", _job(name) + "/config.xml"):
            self._job(name).update_config(config_xml)
        return False

    def delete_job(self, name: str) -> None:
        """Delete the job with its builds; a job that is already gone is fine."""
        try:
            with _jenkinsapi("POST", _job(name) + "/doDelete"):
                self._jenkins.requester.post_url(self._job(name).get_delete_url())
        except JenkinsNotFound:
            pass

    def trigger(self, name: str, parameters: Mapping[str, str]) -> int:
        """Queue a build; its queue item id comes from the ``Location`` header."""
        # Jenkins merges a trigger into an identical item still waiting in the queue and
        # answers with that item: give each execution a parameter value of its own.
        # Job.invoke is not used: it fetches the job's JSON (has_params) and then the new
        # queue item, two requests the engine does not need, and refuses a Location on
        # Jenkins' configured root URL when that differs from the URL we were given.
        suffix = "/buildWithParameters" if parameters else "/build"
        path = _job(name) + suffix
        # Parameter values go in the form body, not the URL, to stay out of access logs;
        # "json" is the classic form's encoding of them, which /build needs.
        data = {"json": Job.mk_json_from_build_parameters(dict(parameters)), **parameters}
        with _jenkinsapi("POST", path):
            response = self._jenkins.requester.post_and_confirm_status(
                self._job(name).baseurl + suffix, params={"delay": "0sec"}, data=data,
                valid=[200, 201, 303], allow_redirects=False)
        match = _QUEUE_ITEM.search(response.headers.get("Location", ""))
        if not match:
            raise JenkinsRequestError("the answer has no queue item in its Location header",
                                      method="POST", path=path, status=response.status_code)
        return int(match.group(1))

    def find_triggered(self, name: str, parameter: str,
                       value: str) -> tuple[int, int | None] | None:
        """(queue id, build number or None) of a trigger carrying parameter=value, if any.

        Used after a crash between sending a trigger and recording its queue item: the
        queue, then the job's newest 100 builds, are searched, so nothing runs twice.
        """
        queue = self._request("GET", "/queue/api/json", params={
            "tree": "items[id,task[name],actions[parameters[name,value]]]"})
        for item in parse_json(lambda doc: doc.get("items") or [], queue, "/queue/api/json"):
            if (item.get("task") or {}).get("name") == name and \
                    models.parameter_value(item, parameter) == value:
                return int(item["id"]), None
        path = _job(name) + "/api/json"
        job = self._request("GET", path, params={
            "tree": "builds[number,queueId,actions[parameters[name,value]]]{0,100}"})
        for build in parse_json(lambda doc: doc.get("builds") or [], job, path):
            if models.parameter_value(build, parameter) == value:
                return int(build.get("queueId") or 0), int(build["number"])
        return None

    def queue_item(self, queue_id: int) -> QueueState:
        """The state of a queue item: waiting (with why), cancelled, or left with a build."""
        item = _unpolled(QueueItem, f"{self._jenkins.get_queue_url()}/item/{int(queue_id)}",
                         self._jenkins)
        path = f"/queue/item/{int(queue_id)}"
        with _jenkinsapi("GET", path):
            doc = item.poll(tree=QUEUE_ITEM_TREE)
        return parse(models.queue_state, doc, "GET", path)

    def cancel_queue_item(self, queue_id: int) -> None:
        """Take an item out of the queue; Jenkins ignores items that already left."""
        with _jenkinsapi("POST", "/queue/cancelItem"):
            _unpolled(Queue, self._jenkins.get_queue_url(), self._jenkins).delete_item_by_id(
                int(queue_id))

    def running_builds(self) -> frozenset[tuple[str, int]]:
        """Every build Jenkins is running, as (job full name, number), in one request.

        ``/computer/api/json`` lists each computer's executors: a Pipeline run holds a
        flyweight executor in ``oneOffExecutors`` from start to end (on the built-in node),
        and each agent scope a PlaceholderExecutable in the agent's ``executors``; both
        export the run's ``url`` and ``number``. Executors of runs our user may not read
        show ``null``: a run missing here is one to look at, not one known to have ended.
        """
        response = self._request("GET", "/computer/api/json", params={"tree": RUNNING_TREE})
        return parse_json(models.running_builds, response, "/computer/api/json")

    def run_state(self, name: str, number: int) -> RunState:
        """Status, timing and stages of a build, in one ``wfapi/describe`` request."""
        path = _build(name, number) + "/wfapi/describe"
        # fullStages makes sure each stage lists its flow nodes, where the step logs are.
        response = self._request("GET", path, params={"fullStages": "true"})
        return parse_json(models.run_state, response, path)

    def building(self, name: str, number: int) -> bool:
        """Whether Jenkins still runs the build (``api/json?tree=building``)."""
        path = _build(name, number) + "/api/json"
        response = self._request("GET", path, params={"tree": "building"})
        return parse_json(lambda doc: doc.get("building") is True, response, path)

    def stage_log(self, name: str, number: int, node_id: str, *, start: int = 0) -> LogChunk:
        """A flow node's log from byte ``start``, by ``…/log/logText/progressiveText``."""
        # The progressive text of the node's log action: X-Text-Size is where to continue
        # (a byte offset in the raw log, so not derivable from the text), X-More-Data: true
        # comes while the node runs. The wfapi node log is HTML-escaped, capped at 10 KiB and
        # has no offsets. Stage nodes have no log of their own: use StageState.log_node_ids.
        node = f"{_build(name, number)}/execution/node/{_segment(node_id)}"
        path = node + "/log/logText/progressiveText"
        response = self._request("GET", path, params={"start": str(int(start))})
        try:
            next_start = int(response.headers["X-Text-Size"])
        except (KeyError, ValueError) as exc:
            raise JenkinsRequestError("the log has no valid X-Text-Size header",
                                      method="GET", path=path) from exc
        more = response.headers.get("X-More-Data", "").lower() == "true"
        return LogChunk(text=response.content.decode("utf-8", errors="replace"),
                        next_start=next_start, more=more)

    def pending_inputs(self, name: str, number: int) -> list[InputRequest]:
        """Input steps of a build that wait for an answer (``wfapi/pendingInputActions``)."""
        path = _build(name, number) + "/wfapi/pendingInputActions"
        with _jenkinsapi("GET", path):
            doc = self._build_of(name, number).get_pending_input_actions()
        return parse(models.input_requests, doc, "GET", path)

    def proceed_input(self, name: str, number: int, input_id: str,
                      parameters: Mapping[str, Any]) -> None:
        """Answer an input step: ``proceedEmpty`` without parameters, else ``proceed``."""
        path = f"{_build(name, number)}/input/{_segment(input_id)}"
        if not parameters:
            with _jenkinsapi("POST", path + "/proceedEmpty"):
                self._build_of(name, number).proceed_input(_segment(input_id))
            return
        # jenkinsapi has no call with parameters: proceed takes the form field
        # json={"parameter":[{"name":..,"value":..}]} and answers 200; submit (with
        # proceed=<ok text>) answers with a redirect to the console page.
        values = [{"name": key, "value": value} for key, value in parameters.items()]
        self._request("POST", path + "/proceed", data={"json": json.dumps({"parameter": values})})

    def abort_input(self, name: str, number: int, input_id: str) -> None:
        """Reject an input step, which aborts the build."""
        with _jenkinsapi("POST", f"{_build(name, number)}/input/{_segment(input_id)}/abort"):
            self._build_of(name, number).abort_input(_segment(input_id))

    def stop(self, name: str, number: int) -> None:
        """Ask Jenkins to abort a running build."""
        # Build.stop asks whether the build runs first: one request more, and Jenkins
        # ignores a stop of a build that has ended anyway.
        with _jenkinsapi("POST", _build(name, number) + "/stop"):
            self._jenkins.requester.post_url(self._build_of(name, number).baseurl + "/stop")

    def _job(self, name: str) -> Job:
        return _unpolled(Job, self._http.base + _job(name), name, self._jenkins)

    def _build_of(self, name: str, number: int) -> Build:
        job = self._job(name)
        return _unpolled(Build, f"{job.baseurl}/{int(number)}", int(number), job)


def _unpolled(cls: type, *args: Any) -> Any:
    """A jenkinsapi object made without the request its constructor sends."""
    # JenkinsBase.__init__ polls (Job: the whole job JSON, Build: at depth 1); the
    # constructors give no way to say no. Objects made here read nothing until asked,
    # with a tree, through poll(tree=...) or one of their methods.
    return _NO_POLL[cls](*args)


def _no_poll(cls: type) -> type:
    """A subclass whose constructor's poll (the first, without a tree) sends nothing."""
    def poll(self: Any, tree: str | None = None) -> dict:
        if tree is None and not getattr(self, "_made", False):
            self._made = True
            return {}
        return cls.poll(self, tree=tree)
    return type(f"Unpolled{cls.__name__}", (cls,), {"poll": poll})


_NO_POLL = {cls: _no_poll(cls) for cls in (Job, Build, Queue, QueueItem)}


@contextmanager
def _jenkinsapi(method: str, path: str) -> Iterator[None]:
    """jenkinsapi's own exceptions as ours (their messages quote form data and headers)."""
    try:
        yield
    except JenkinsAPIException as exc:
        raise JenkinsRequestError(f"unexpected answer ({type(exc).__name__})", method=method,
                                  path=path) from None
    except requests.HTTPError as exc:  # get_data on a status we let through: not JSON
        raise JenkinsRequestError("unexpected answer", method=method, path=path,
                                  status=exc.response.status_code if exc.response is not None
                                  else None) from None


def build_url(base: str, name: str, number: int) -> str:
    """A build's page: Jenkins' URL, the job's path and the number (pure)."""
    return f"{base.rstrip('/')}{_build(name, number)}/"


def _job(name: str) -> str:
    return "/job/" + _segment(name)


def _build(name: str, number: int) -> str:
    return f"{_job(name)}/{int(number)}"


def _segment(value: str) -> str:
    return quote(str(value), safe="")
