"""The only code that talks to Jenkins: jobs, the queue, run state, step logs and inputs.

Requests go through ``Transport.request`` (``sidecar.jenkins.transport``), the one choke
point that authenticates, fetches crumbs and turns every failure into a ``JenkinsError``.
Builds are followed through their queue item (the trigger's ``Location`` header), never
through ``lastBuild``, and each state query is one request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from sidecar.jenkins import models
from sidecar.jenkins.errors import JenkinsNotFound, JenkinsRequestError
from sidecar.jenkins.models import InputRequest, LogChunk, QueueState, RunState
from sidecar.jenkins.transport import Transport, parse_json

_QUEUE_ITEM = re.compile(r"/queue/item/(\d+)/?$")
_EXECUTABLE = "currentExecutable[url,number]"
RUNNING_TREE = f"computer[executors[{_EXECUTABLE}],oneOffExecutors[{_EXECUTABLE}]]"


class JenkinsClient:
    """Jenkins over HTTP: jobs, the build queue, wfapi run state, step logs and inputs."""

    def __init__(self, *, url: str, user: str = "", token: str = "", password: str = "",
                 timeout: float = 10.0, session: requests.Session | None = None):
        self._http = Transport(url=url, user=user, token=token, password=password,
                               timeout=timeout, session=session)
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

    def ping(self) -> str:
        """Jenkins' version, from the ``X-Jenkins`` header of ``GET /api/json?tree=mode``."""
        response = self._request("GET", "/api/json", params={"tree": "mode"})
        version = response.headers.get("X-Jenkins")
        if not version:
            raise JenkinsRequestError("the answer has no X-Jenkins header; is this Jenkins?",
                                      method="GET", path="/api/json")
        return version

    def job_exists(self, name: str) -> bool:
        """Whether the job exists (and is visible to our user)."""
        try:
            self._request("GET", _job(name) + "/api/json", params={"tree": "name"})
        except JenkinsNotFound:
            return False
        return True

    def create_or_update_job(self, name: str, config_xml: str) -> bool:
        """Create the job from ``config_xml``, or replace its config; True when it was created."""
        body, headers = config_xml.encode("utf-8"), {"Content-Type": "application/xml"}
        if not self.job_exists(name):
            try:
                self._request("POST", "/createItem", params={"name": name}, data=body,
                              headers=headers)
                return True
            except JenkinsRequestError as exc:
                # 400 "A job already exists": someone created it since we looked.
                if exc.status != 400 or not self.job_exists(name):
                    raise
        self._request("POST", _job(name) + "/config.xml", data=body, headers=headers)
        return False

    def delete_job(self, name: str) -> None:
        """Delete the job with its builds; a job that is already gone is fine."""
        try:
            self._request("POST", _job(name) + "/doDelete")
        except JenkinsNotFound:
            pass

    def trigger(self, name: str, parameters: Mapping[str, str]) -> int:
        """Queue a build; its queue item id comes from the ``Location`` header."""
        # Jenkins merges a trigger into an identical item still waiting in the queue and
        # answers with that item: give each execution a parameter value of its own.
        path = _job(name) + ("/buildWithParameters" if parameters else "/build")
        # Parameter values go in the form body, not the URL, to stay out of access logs.
        response = self._request("POST", path, params={"delay": "0sec"},
                                 data=dict(parameters) or None)
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
        path = f"/queue/item/{int(queue_id)}/api/json"
        response = self._request("GET", path, params={"tree": "cancelled,why,executable[number]"})
        return parse_json(models.queue_state, response, path)

    def cancel_queue_item(self, queue_id: int) -> None:
        """Take an item out of the queue; Jenkins ignores items that already left."""
        self._request("POST", "/queue/cancelItem", params={"id": str(int(queue_id))})

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
        """Input steps of a build that wait for an answer."""
        path = _build(name, number) + "/wfapi/pendingInputActions"
        return parse_json(models.input_requests, self._request("GET", path), path)

    def proceed_input(self, name: str, number: int, input_id: str,
                      parameters: Mapping[str, Any]) -> None:
        """Answer an input step: ``proceedEmpty`` without parameters, else ``proceed``."""
        # proceed takes the form field json={"parameter":[{"name":..,"value":..}]} and answers
        # 200; submit (with proceed=<ok text>) answers with a redirect to the console page.
        path = f"{_build(name, number)}/input/{_segment(input_id)}"
        if not parameters:
            self._request("POST", path + "/proceedEmpty")
            return
        values = [{"name": key, "value": value} for key, value in parameters.items()]
        self._request("POST", path + "/proceed", data={"json": json.dumps({"parameter": values})})

    def abort_input(self, name: str, number: int, input_id: str) -> None:
        """Reject an input step, which aborts the build."""
        self._request("POST", f"{_build(name, number)}/input/{_segment(input_id)}/abort")

    def stop(self, name: str, number: int) -> None:
        """Ask Jenkins to abort a running build."""
        self._request("POST", _build(name, number) + "/stop")


def _job(name: str) -> str:
    return "/job/" + _segment(name)


def _build(name: str, number: int) -> str:
    return f"{_job(name)}/{int(number)}"


def _segment(value: str) -> str:
    return quote(str(value), safe="")
