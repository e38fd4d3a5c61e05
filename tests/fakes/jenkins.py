"""A fake Jenkins: a real HTTP server on 127.0.0.1 that answers the endpoints the sidecar uses.

The client under test talks HTTP to it exactly as to Jenkins: same paths, JSON shapes
(reference/blueocean-api.md), headers (``X-Jenkins``, ``Location``, ``X-Text-Size``,
``X-More-Data``), status codes, basic auth, crumbs bound to a session cookie.

Test-control API (all plain Python, no sleeps; tests move things on explicitly)::

    with FakeJenkins(auto_start=False, users={"bob": "pw"}, api_tokens={"alice": "tok"}) as fake:
        fake.url                              # http://127.0.0.1:<port>
        fake.jobs["app"].config_xml           # latest config.xml of a job
        fake.start_queued()                   # queue items leave the queue, builds start
        build = fake.builds[("app", 1)]       # FakeBuild: .script (at start), .parameters
        build.start_stage("Build"); build.append_log("Build", "text")
        build.finish_stage("Build", "SUCCESS"); build.pause_for_input("Ok", "Deploy?")
        build.answers                         # input answers that reached Jenkins
        build.broken = True                   # its wfapi answers 500 (unloadable flow graph)
        build.finish("SUCCESS")
        fake.fail_with(503); fake.refuse_connections(); fake.stall(); fake.recover()
        fake.expire_sessions()                # like a restart: crumbs and cookies go stale
        fake.request_counts[("GET", "/job/{name}/{number}/wfapi/describe")]
        fake.requests                         # every request, headers and body included
        fake.before_request("GET", "/computer/api/json", action)  # runs action first
        build.start_stage("step-0-0", report="label"); build.report("step-0-0", "label")
        fake.errors                           # tracebacks of bugs in the fake itself

Without ``users``/``api_tokens`` anonymous requests are allowed; with them, requests need
basic auth. API-token requests need no crumb; password and anonymous POSTs do (``crumbs``).

``…/api/json`` answers honour ``tree`` (``fakes.jenkins_tree``); ``…/api/python`` (what
jenkinsapi reads, and its crumb requester) is the same document in Stapler's Python
flavour (``None``, ``True``, ``False``). ``root_url`` is Jenkins' configured URL, which
its ``Location`` headers carry (default: the URL the fake listens on). ``/computer/api/json``
shows the built-in node (no executors of its own; one ``OneOffExecutor`` per running
Pipeline build, as the flyweight task runs there), an idle static agent, and one
Kubernetes agent per build in an agent scope (`FakeBuild.holds_agent`) whose executor
runs the build's PlaceholderExecutable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree.ElementTree import ParseError

from fakes import jenkins_tree
from fakes.jenkins_model import (PLACEHOLDER, WORKFLOW_RUN, Clock, FakeBuild, FakeJob,
                                 FakeQueueItem, build_path, job_path)

COOKIE = "JSESSIONID.fa4e1b2c"
CRUMB_FIELD = "Jenkins-Crumb"
JSON_TYPE = "application/json;charset=utf-8"
NOTE = b"\x1b[8mha:////4HbD5ouo5WIBvmTQBhTR0e/uO3wxjLMJjFwWYdsF3tJ6AAAAlh+LCAAAAAAAAP9b\x1b[0m"
"""A console note as Jenkins stores it before an annotated line (a hyperlink, a timestamp)."""
CONSOLE_NOTE = re.compile(rb"\x1b\[8mha:[^\x1b]*\x1b\[0m")


def annotated(text: bytes) -> bytes:
    """The raw log Jenkins keeps for a plain text: a note before every line begun.

    The progressive text strips the notes but counts its offsets (``start``,
    X-Text-Size) in this raw log, so a client can never compute them from the text.
    Appending to the text only appends to the raw log, as Jenkins' log only grows.
    """
    return b"".join(NOTE + line for line in text.splitlines(keepends=True))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, doc: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(doc).encode(), {"Content-Type": JSON_TYPE})

    @classmethod
    def python(cls, doc: Any) -> Reply:
        """The ``api/python`` flavour: JSON's writer with None, True and False."""
        return cls(200, _python_literal(doc).encode(),
                   {"Content-Type": "text/x-python;charset=UTF-8"})

    @classmethod
    def error(cls, status: int, message: str) -> Reply:
        # Jenkins' error pages are HTML with scripts in the head; clients must cope.
        page = (f"<html><head><title>Error {status}</title><script>var crumb = 'x';</script>"
                f"</head><body><h2>HTTP ERROR {status} {message}</h2></body></html>")
        return cls(status, page.encode(), {"Content-Type": "text/html;charset=utf-8"})

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        return cls(status, b"", {"Location": location})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    user: str = "anonymous"

    @property
    def form(self) -> dict[str, str]:
        if "form-urlencoded" not in self.headers.get("Content-Type", ""):
            return {}
        pairs = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in pairs.items()}


# (method, pattern, handler). Patterns double as the keys of FakeJenkins.request_counts.
ROUTES = [
    ("GET", "/api/json", "_root"),
    ("GET", "/computer/api/json", "_computers"),
    ("GET", "/crumbIssuer/api/json", "_crumb_issuer"),
    ("GET", "/crumbIssuer/api/python", "_crumb_issuer"),
    ("POST", "/createItem", "_create_item"),
    ("GET", "/job/{name}/api/json", "_job_json"),
    ("GET", "/job/{name}/{number}/api/json", "_build_json"),
    ("GET", "/job/{name}/api/python", "_job_json"),
    ("GET", "/job/{name}/config.xml", "_get_config"),
    ("POST", "/job/{name}/config.xml", "_post_config"),
    ("POST", "/job/{name}/doDelete", "_delete_job"),
    ("POST", "/job/{name}/build", "_build"),
    ("POST", "/job/{name}/buildWithParameters", "_build_with_parameters"),
    ("GET", "/queue/api/json", "_queue_json"),
    ("GET", "/queue/item/{id}/api/json", "_queue_item"),
    ("GET", "/queue/item/{id}/api/python", "_queue_item"),
    ("POST", "/queue/cancelItem", "_cancel_item"),
    ("GET", "/job/{name}/{number}/wfapi/describe", "_describe"),
    ("GET", "/job/{name}/{number}/wfapi/pendingInputActions", "_pending_inputs"),
    ("POST", "/job/{name}/{number}/wfapi/inputSubmit", "_input_submit"),
    ("GET", "/job/{name}/{number}/execution/node/{node}/log/logText/progressiveText",
     "_node_log"),
    ("POST", "/job/{name}/{number}/input/{input}/proceedEmpty", "_proceed_empty"),
    ("POST", "/job/{name}/{number}/input/{input}/proceed", "_proceed"),
    ("POST", "/job/{name}/{number}/input/{input}/submit", "_submit"),
    ("POST", "/job/{name}/{number}/input/{input}/abort", "_abort"),
    ("POST", "/job/{name}/{number}/stop", "_stop"),
]


def _compile(pattern: str) -> re.Pattern[str]:
    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        return rf"(?P<{name}>\d+)" if name in ("number", "id") else rf"(?P<{name}>[^/]+)"
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", group, re.escape(pattern)) + "/?$")


_COMPILED = [(method, pattern, _compile(pattern), handler) for method, pattern, handler in ROUTES]
_COMPILED_BY_PATTERN = {pattern: regex for _, pattern, regex, _ in _COMPILED}


class FakeJenkins:
    """A Jenkins controller with WorkflowJobs, a queue, wfapi and input steps, in one process."""

    def __init__(self, *, auto_start: bool = False, users: Mapping[str, str] | None = None,
                 api_tokens: Mapping[str, str] | None = None, crumbs: bool = True,
                 version: str = "2.479.3", admins: tuple[str, ...] = ()):
        self.auto_start, self.crumbs, self.version = auto_start, crumbs, version
        self.root_url: str | None = None
        self.users, self.api_tokens = dict(users or {}), dict(api_tokens or {})
        self.admins = set(admins)  # Overall/Administer: they answer any input
        self.jobs: dict[str, FakeJob] = {}
        self.queue: dict[int, FakeQueueItem] = {}
        self.builds: dict[tuple[str, int], FakeBuild] = {}
        self.request_counts: Counter[tuple[str, str]] = Counter()
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self.clock = Clock()
        self._lock = threading.RLock()
        self._sessions: dict[str, str] = {}  # session id -> user
        self._next_queue_id = 101
        self._hooks: dict[tuple[str, str], Callable[[], None]] = {}
        self._failure: tuple[int, str | None] | None = None
        self._stalled = False
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeJenkins:
        self._open()
        return self

    def stop(self) -> None:
        self._release.set()
        self._close()

    def __enter__(self) -> FakeJenkins:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- outages -----------------------------------------------------------------------------

    def fail_with(self, status: int, body: str | None = None) -> None:
        """Answer every request with ``status`` (e.g. 503 while Jenkins restarts).

        With ``body``, answer exactly that as text/html, as a proxy or login page in front
        of Jenkins would (a 200 then is not JSON).
        """
        self._failure = (status, body)

    def refuse_connections(self) -> None:
        """Close the port (and open connections): clients get 'connection refused'."""
        self._close()

    def stall(self) -> None:
        """Accept requests and never answer them until ``recover()`` (client timeouts)."""
        self._release = threading.Event()
        self._stalled = True

    def recover(self) -> None:
        """End every outage; the port is the same as before."""
        self._failure, self._stalled = None, False
        self._release.set()
        if self._server is None:
            self._open()

    def expire_sessions(self) -> None:
        """Forget every web session, as a restart does: old cookies and crumbs stop working."""
        with self._lock:
            self._sessions.clear()

    def before_request(self, method: str, pattern: str, action: Callable[[], None]) -> None:
        """Run action (once) when the next such request arrives, before it is answered."""
        self._hooks[(method, pattern)] = action

    # -- builds ------------------------------------------------------------------------------

    def start_queued(self, *queue_ids: int) -> list[FakeBuild]:
        """Let waiting queue items (all, or the given ones) leave the queue; return the builds."""
        with self._lock:
            items = [self.queue[i] for i in sorted(queue_ids or self.queue)]
            return [self._start(item) for item in items if item.waiting]

    def forget_queue_item(self, queue_id: int) -> None:
        """Drop a left item, as Jenkins does after about five minutes (then 404)."""
        with self._lock:
            del self.queue[queue_id]

    def _start(self, item: FakeQueueItem) -> FakeBuild:
        job = self.jobs[item.job]
        number, job.next_build_number = job.next_build_number, job.next_build_number + 1
        build = FakeBuild(job=job.name, number=number, script=job.script,
                          parameters=dict(item.parameters), queue_id=item.id, clock=self.clock,
                          lock=self._lock)
        self.builds[(job.name, number)] = build
        item.build_number = number
        return build

    def _enqueue(self, job: FakeJob, parameters: dict[str, str]) -> Reply:
        for item in self.queue.values():  # Jenkins merges identical waiting items
            if item.waiting and item.job == job.name and item.parameters == parameters:
                break
        else:
            item = FakeQueueItem(self._next_queue_id, job.name, parameters, self.clock.tick())
            self._next_queue_id += 1
            self.queue[item.id] = item
            if self.auto_start:
                self._start(item)
        root = self.root_url or self.url  # Jenkins.getRootUrl(): the configured URL if any
        return Reply(201, b"", {"Location": f"{root}/queue/item/{item.id}/"})

    # -- HTTP --------------------------------------------------------------------------------

    def _open(self) -> None:
        self._server = _Server(("127.0.0.1", self._port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"fake-jenkins-{self._port}", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        server, thread, self._server = self._server, self._thread, None
        if server is not None and thread is not None:
            server.shutdown()
            server.drop_connections()
            server.server_close()
            thread.join()

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(handler.command, split.path,
                          {k: v[-1] for k, v in parse_qs(split.query).items()},
                          handler.headers, handler.rfile.read(length) if length else b"")
        release = self._release
        for (method, pattern), action in list(self._hooks.items()):
            if method == request.method and _COMPILED_BY_PATTERN[pattern].match(request.path):
                del self._hooks[(method, pattern)]
                action()
        if self._stalled:
            release.wait()
            handler.close_connection = True  # never answered
            return
        try:
            reply = self._dispatch(request)
        except Exception:
            self.errors.append(traceback.format_exc())
            reply = Reply.error(500, "fake Jenkins failed; see FakeJenkins.errors")
        handler.reply(reply, version=self.version)

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:  # one request at a time: the fake is simple, not fast
            return self._dispatch_locked(request)

    def _dispatch_locked(self, request: Request) -> Reply:
        self.requests.append(RecordedRequest(request.method, request.path, request.query,
                                             dict(request.headers.items()), request.body))
        for method, pattern, regex, handler in _COMPILED:
            match = regex.match(request.path)
            if match and method == request.method:
                break
        else:
            self.request_counts[(request.method, request.path)] += 1
            allowed = any(regex.match(request.path) for _, _, regex, _ in _COMPILED)
            return (Reply.error(405, "Method Not Allowed") if allowed
                    else Reply.error(404, "Not Found"))
        self.request_counts[(method, pattern)] += 1
        if self._failure is not None:
            status, body = self._failure
            if body is None:
                return Reply.error(status, "Please wait while Jenkins is getting ready to work")
            return Reply(status, body.encode(), {"Content-Type": "text/html;charset=utf-8"})
        refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        arguments = {key: unquote(value) for key, value in match.groupdict().items()}
        reply = getattr(self, handler)(request, **arguments)
        api = pattern.endswith(("/api/json", "/api/python")) and reply.status == 200
        headers = {k: v for k, v in reply.headers.items() if k != "Content-Type"}
        if api and "tree" in request.query:
            tree = jenkins_tree.parse(request.query["tree"])
            reply = Reply.json(jenkins_tree.prune(json.loads(reply.body), tree))
        if api and pattern.endswith("/api/python"):
            reply = Reply.python(json.loads(reply.body))
        if api:
            reply.headers.update(headers)  # e.g. the crumb issuer's Set-Cookie
        return reply

    def _authenticate(self, request: Request) -> Reply | None:
        kind = "anonymous"
        header = request.headers.get("Authorization", "")
        secured = bool(self.users or self.api_tokens)  # else Jenkins ignores credentials
        if header.startswith("Basic ") and secured:
            user, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            if self.api_tokens.get(user) == secret:
                kind = "token"
            elif self.users.get(user) == secret:
                kind = "password"
            else:
                return Reply.error(401, f"Invalid password/token for user: {user}")
            request.user = user
        elif secured:
            return Reply.error(403, "Authentication required")
        if request.method == "POST" and self.crumbs and kind != "token":
            session = self._session(request)
            if session is None or request.headers.get(CRUMB_FIELD) != self._crumb(session):
                return Reply.error(403, "No valid crumb was included in the request")
        return None

    def _session(self, request: Request) -> str | None:
        cookies = SimpleCookie(request.headers.get("Cookie", ""))
        session = cookies[COOKIE].value if COOKIE in cookies else None
        return session if self._sessions.get(session or "") == request.user else None

    def _crumb(self, session: str) -> str:
        return hashlib.sha256(f"{session}:{self._sessions[session]}".encode()).hexdigest()

    # -- endpoints ---------------------------------------------------------------------------

    def _root(self, request: Request) -> Reply:
        return Reply.json({"_class": "hudson.model.Hudson", "mode": "NORMAL"})

    def _computers(self, request: Request) -> Reply:
        running = sorted((b for b in self.builds.values() if b.result is None),
                         key=lambda b: (b.job, b.number))
        one_off = [_executor(-1, b.executable_json(self.url, WORKFLOW_RUN), "OneOffExecutor")
                   for b in running]
        built_in = _computer("hudson.model.Hudson$MasterComputer", "Built-In Node", [], one_off)
        static = _computer("hudson.slaves.SlaveComputer", "static-agent", [_executor(0, None)], [])
        agents = [_computer("org.csanchez.jenkins.plugins.kubernetes.KubernetesComputer",
                            f"{b.job}-{b.number}-agent".replace(".", "-").lower(),
                            [_executor(0, b.executable_json(self.url, PLACEHOLDER))], [])
                  for b in running if b.holds_agent]
        computers = [built_in, static, *sorted(agents, key=lambda c: c["displayName"])]
        busy = sum(1 for c in computers for e in c["executors"] if not e["idle"])
        return Reply.json({"_class": "hudson.model.ComputerSet", "busyExecutors": busy,
                           "computer": computers, "displayName": "Nodes",
                           "totalExecutors": sum(len(c["executors"]) for c in computers)})

    def _crumb_issuer(self, request: Request) -> Reply:
        if not self.crumbs:
            return Reply.error(404, "Not Found")
        session = self._session(request)
        headers = {}
        if session is None:
            session = secrets.token_hex(16)
            self._sessions[session] = request.user
            headers["Set-Cookie"] = f"{COOKIE}={session}; Path=/; HttpOnly"
        reply = Reply.json({"_class": "hudson.security.csrf.DefaultCrumbIssuer",
                            "crumb": self._crumb(session), "crumbRequestField": CRUMB_FIELD})
        reply.headers.update(headers)
        return reply

    def _create_item(self, request: Request) -> Reply:
        name = request.query.get("name", "")
        if not name:
            return Reply.error(400, "Query parameter 'name' is required")
        if name in self.jobs:
            return Reply.error(400, f"A job already exists with the name ‘{name}’")
        if "xml" not in request.headers.get("Content-Type", ""):
            return Reply.error(400, "No mode given")
        return self._store_config(name, request.body, status=200)

    def _job_json(self, request: Request, name: str) -> Reply:
        job = self.jobs.get(name)
        if job is None:
            return Reply.error(404, "Not Found")
        in_queue = any(i.waiting and i.job == name for i in self.queue.values())
        builds = sorted((b for (j, _), b in self.builds.items() if j == name),
                        key=lambda b: -b.number)
        return Reply.json({**job.to_json(self.url, in_queue=in_queue),
                           "builds": [b.summary_json(self.url) for b in builds]})

    def _build_json(self, request: Request, name: str, number: str) -> Reply:
        return self._with_build(name, number,
                                lambda build: Reply.json(build.summary_json(self.url)))

    def _get_config(self, request: Request, name: str) -> Reply:
        job = self.jobs.get(name)
        if job is None:
            return Reply.error(404, "Not Found")
        return Reply(200, job.config_xml.encode(), {"Content-Type": "application/xml"})

    def _post_config(self, request: Request, name: str) -> Reply:
        if name not in self.jobs:
            return Reply.error(404, "Not Found")
        return self._store_config(name, request.body, status=200)

    def _store_config(self, name: str, body: bytes, *, status: int) -> Reply:
        job = FakeJob(name, body.decode("utf-8"))
        try:
            _ = job.parameter_defaults  # parses the XML: a bad config.xml is a 400
        except ParseError as exc:
            return Reply.error(400, f"Failed to parse config.xml: {exc}")
        if name in self.jobs:
            job.next_build_number = self.jobs[name].next_build_number
        self.jobs[name] = job
        return Reply(status)

    def _delete_job(self, request: Request, name: str) -> Reply:
        if self.jobs.pop(name, None) is None:
            return Reply.error(404, "Not Found")
        for key in [key for key in self.builds if key[0] == name]:
            del self.builds[key]
        return Reply.redirect(self.url + "/")

    def _build(self, request: Request, name: str) -> Reply:
        job = self.jobs.get(name)
        if job is None:
            return Reply.error(404, "Not Found")
        defaults = job.parameter_defaults
        if defaults is not None:
            if "json" not in request.form:
                return Reply.error(400, "Nothing is submitted")
            return self._enqueue(job, {**defaults, **_form_parameters(request.form)})
        return self._enqueue(job, {})

    def _build_with_parameters(self, request: Request, name: str) -> Reply:
        job = self.jobs.get(name)
        if job is None:
            return Reply.error(404, "Not Found")
        defaults = job.parameter_defaults
        if defaults is None:
            return Reply.error(400, f"{name} is not parameterized")
        given = {**request.query, **request.form}
        return self._enqueue(job, {key: given.get(key, value) for key, value in defaults.items()})

    def _queue_json(self, request: Request) -> Reply:
        items = [item.to_json(self.url) for item in self.queue.values() if item.waiting]
        return Reply.json({"_class": "hudson.model.Queue", "discoverableItems": [],
                           "items": items})

    def _queue_item(self, request: Request, id: str) -> Reply:
        item = self.queue.get(int(id))
        if item is None:
            return Reply.error(404, "Not Found")
        return Reply.json(item.to_json(self.url))

    def _cancel_item(self, request: Request) -> Reply:
        item = self.queue.get(int(request.query.get("id", "0")))
        if item is not None and item.waiting:
            item.cancelled = True
        return Reply.redirect(self.url + "/queue/")

    def _describe(self, request: Request, name: str, number: str) -> Reply:
        def describe(build: FakeBuild) -> Reply:
            if build.broken:
                return Reply.error(500, "java.io.IOException: failed to load the flow graph "
                                        f"of {name} #{number}")
            return Reply.json(build.describe_json())
        return self._with_build(name, number, describe)

    def _pending_inputs(self, request: Request, name: str, number: str) -> Reply:
        return self._with_build(name, number,
                                lambda build: Reply.json(build.pending_inputs_json()))

    def _node_log(self, request: Request, name: str, number: str, node: str) -> Reply:
        build = self.builds.get((name, int(number)))
        log = build.node_log(node) if build else None
        if log is None:
            return Reply.error(404, "Not Found")
        text, complete = log
        raw = annotated(text)
        start = int(request.query.get("start", "0"))
        if start > len(raw):
            start = 0  # what Jenkins' LargeText does: the text rolled over
        headers = {"Content-Type": "text/plain;charset=UTF-8", "X-Text-Size": str(len(raw))}
        if not complete:
            headers["X-More-Data"] = "true"
        return Reply(200, CONSOLE_NOTE.sub(b"", raw[start:]), headers)

    def _proceed_empty(self, request: Request, name: str, number: str, input: str) -> Reply:
        return self._answer(request, name, number, input, "proceed", {}, Reply(200))

    def _proceed(self, request: Request, name: str, number: str, input: str) -> Reply:
        return self._answer(request, name, number, input, "proceed",
                            _form_parameters(request.form), Reply(200))

    def _input_submit(self, request: Request, name: str, number: str) -> Reply:
        return self._answer(request, name, number, request.query.get("inputId", ""), "proceed",
                            _form_parameters(request.form), Reply(200))

    def _submit(self, request: Request, name: str, number: str, input: str) -> Reply:
        action = "proceed" if "proceed" in request.form else "abort"
        return self._answer(request, name, number, input, action, _form_parameters(request.form),
                            Reply.redirect(f"{self.url}{build_path(name, int(number))}/console"))

    def _abort(self, request: Request, name: str, number: str, input: str) -> Reply:
        return self._answer(request, name, number, input, "abort", {}, Reply(200))

    def _stop(self, request: Request, name: str, number: str) -> Reply:
        def stop(build: FakeBuild) -> Reply:
            build.stop()
            return Reply.redirect(f"{self.url}{job_path(name)}/{number}/")
        return self._with_build(name, number, stop)

    def _answer(self, request: Request, name: str, number: str, input_id: str, action: str,
                parameters: dict[str, Any], reply: Reply) -> Reply:
        user = request.user
        def answer(build: FakeBuild) -> Reply:
            # Without security (no users, no tokens) every caller is an administrator; an
            # abort also passes with Job/Cancel, which every user of the fake has.
            secured = bool(self.users or self.api_tokens)
            if secured and action == "proceed" and user not in self.admins \
                    and not build.may_answer(input_id, user):
                submitter = build.inputs[input_id].submitter
                return Reply.error(400, f"You need to be {submitter} to submit this.")
            if not build.answer(input_id, action, parameters):
                return Reply.error(404, "Not Found")
            return reply
        return self._with_build(name, number, answer)

    def _with_build(self, name: str, number: str, then: Callable[[FakeBuild], Reply]) -> Reply:
        build = self.builds.get((name, int(number)))
        return Reply.error(404, "Not Found") if build is None else then(build)


def _computer(kind: str, name: str, executors: list[dict], one_off: list[dict]) -> dict[str, Any]:
    """A Computer as ``/computer/api/json`` lists it."""
    return {"_class": kind, "displayName": name, "executors": executors,
            "idle": not any(e["currentExecutable"] for e in executors + one_off),
            "numExecutors": len(executors), "offline": False, "oneOffExecutors": one_off}


def _executor(number: int, executable: dict | None, kind: str = "Executor") -> dict[str, Any]:
    """An Executor; ``currentExecutable`` is null when idle (or not readable by the caller)."""
    return {"_class": f"hudson.model.{kind}", "currentExecutable": executable,
            "idle": executable is None, "likelyStuck": False, "number": number,
            "progress": -1}


def _python_literal(value: Any) -> str:
    """What Stapler's PythonDataWriter writes: JSON strings and numbers, Python constants."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(k)}:{_python_literal(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_python_literal(v) for v in value) + "]"
    return json.dumps(value)


def _form_parameters(form: Mapping[str, str]) -> dict[str, Any]:
    """Parameters from the classic form field ``json={"parameter":[{"name","value"}]}``."""
    if "json" not in form:
        return {}
    parameters = json.loads(form["json"]).get("parameter", [])
    if isinstance(parameters, dict):  # Jenkins accepts a lone object as well
        parameters = [parameters]
    return {p["name"]: p.get("value") for p in parameters}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Jetty
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: _Server

    def _serve(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def reply(self, reply: Reply, *, version: str) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("X-Jenkins", version)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up (timeout) or the fake is closing
            self.close_connection = True

    def version_string(self) -> str:
        return "Jetty(12.0.16)"

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeJenkins):
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """End kept-alive connections so that nothing reaches the fake any more."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # dropped connections are expected
            self.fake.errors.append(traceback.format_exc())
