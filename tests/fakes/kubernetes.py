"""A fake Kubernetes API server: pods of one namespace, listed by label selector.

Answers ``GET /api/v1/namespaces/{ns}/pods?labelSelector=key`` (label exists) and
``key=value`` with a real PodList, ``GET /api/v1/namespaces/{ns}`` with the Namespace
and its labels, ``GET /api/v1/nodes`` with a NodeList (with `status.allocatable` where a
test set it), ``GET /api/v1/pods?fieldSelector=...`` (all namespaces; `spec.nodeName=`
and `status.phase!=` terms) with pods' node and container requests; and
`coordination.k8s.io/v1` Leases in any namespace: GET, POST (409 AlreadyExists when
present) and PUT, which needs the `metadata.resourceVersion` last read (else 409 Conflict)
and stamps a new one, as the API server's optimistic concurrency does. Everything else
is 404 with a Status object. Tests place, move and delete pods, count requests, can make
the API fail, everywhere (`failure`) or on some paths (`failures`), and can run
`before_write` just before a Lease write is applied (a racing candidate).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeKubernetes:
    """Pods by name: labels, node and phase."""

    def __init__(self, namespace: str = "jenkins-agents"):
        self.namespace = namespace
        self.pods: dict[str, dict] = {}
        self.request_counts: Counter[str] = Counter()
        self.failure: int | None = None
        self.namespace_labels: dict[str, str] = {}
        self.nodes: list[str] = []
        self.allocatable: dict[str, dict[str, str]] = {}  # node -> {"cpu": "2", "memory": ...}
        self.failures: dict[str, int] = {}  # path -> status answered there
        self.leases: dict[tuple[str, str], dict] = {}  # (namespace, name) -> Lease
        self.before_write: Callable[[], None] | None = None
        self._version = 100
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeKubernetes:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_pod(self, name: str, labels: dict[str, str], node: str | None = None,
                phase: str = "Running", requests: list[dict[str, str]] | None = None,
                namespace: str | None = None) -> None:
        """Create or replace a pod; `requests`: each container's resources.requests."""
        with self._lock:
            self.pods[name] = {"labels": dict(labels), "node": node, "phase": phase,
                               "requests": list(requests or []),
                               "namespace": namespace or self.namespace}

    def delete_pod(self, name: str) -> None:
        """Remove a pod, as when its node went away."""
        with self._lock:
            self.pods.pop(name, None)

    def _pod_list(self, selector: str) -> dict:
        key, _, value = selector.partition("=")
        with self._lock:
            items = [self._pod(name, pod) for name, pod in sorted(self.pods.items())
                     if pod["namespace"] == self.namespace and key in pod["labels"]
                     and (not value or pod["labels"][key] == value)]
        return {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"},
                "items": items}

    def _all_pods(self, field_selector: str) -> dict:
        """Pods of every namespace matching `spec.nodeName=` and `status.phase!=` terms."""
        terms = [term for term in field_selector.split(",") if term]
        with self._lock:
            items = [self._pod(name, pod) for name, pod in sorted(self.pods.items())
                     if all(_field_matches(pod, term) for term in terms)]
        return {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"},
                "items": items}

    @staticmethod
    def _pod(name: str, pod: dict) -> dict:
        containers = [{"name": f"c{i}", "image": "busybox", "resources": {"requests": asked}}
                      for i, asked in enumerate(pod["requests"])]
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": pod["namespace"],
                             "labels": pod["labels"]},
                "spec": {"nodeName": pod["node"], "containers": containers},
                "status": {"phase": pod["phase"]}}

    def _namespace(self) -> dict:
        return {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": self.namespace, "labels": dict(self.namespace_labels)},
                "status": {"phase": "Active"}}

    def _node_list(self) -> dict:
        return {"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"},
                "items": [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                           **({"status": {"allocatable": dict(self.allocatable[name])}}
                              if name in self.allocatable else {})}
                          for name in self.nodes]}

    def put_lease(self, namespace: str, name: str, spec: dict) -> dict:
        """Store a Lease with a new resourceVersion (tests, and the handler's writes)."""
        self._version += 1
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": name, "namespace": namespace,
                              "resourceVersion": str(self._version)},
                 "spec": dict(spec)}
        self.leases[(namespace, name)] = lease
        return lease

    def _lease_write(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        """POST …/leases or PUT …/leases/{name}: (status, answer)."""
        # apis / coordination.k8s.io / v1 / namespaces / {ns} / leases [/ {name}]
        parts = path.strip("/").split("/")
        namespace = parts[4]
        name = parts[6] if method == "PUT" else body.get("metadata", {}).get("name", "")
        with self._lock:
            if self.before_write is not None:
                self.before_write()
            current = self.leases.get((namespace, name))
            if method == "POST" and current is not None:
                return 409, _status(409, "AlreadyExists", f'leases "{name}" already exists')
            if method == "PUT" and current is None:
                return 404, _status(404, "NotFound", f'leases "{name}" not found')
            if method == "PUT" and body.get("metadata", {}).get("resourceVersion") != \
                    current["metadata"]["resourceVersion"]:
                return 409, _status(409, "Conflict", "the object has been modified; please "
                                    "apply your changes to the latest version and try again")
            return (201 if method == "POST" else 200), \
                self.put_lease(namespace, name, body.get("spec", {}))

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlparse(self.path)
                fake.request_counts[url.path] += 1
                if fake.failure:
                    return self._send(fake.failure, {"kind": "Status", "code": fake.failure})
                if url.path in fake.failures:
                    code = fake.failures[url.path]
                    return self._send(code, {"kind": "Status", "code": code})
                if url.path == f"/api/v1/namespaces/{fake.namespace}":
                    return self._send(200, fake._namespace())
                lease = _lease_key(url.path)
                if lease is not None:
                    with fake._lock:
                        found = fake.leases.get(lease)
                    if found is None:
                        return self._send(404, _status(404, "NotFound", "lease not found"))
                    return self._send(200, found)
                if url.path == "/api/v1/nodes":
                    return self._send(200, fake._node_list())
                if url.path == "/api/v1/pods":
                    selector = parse_qs(url.query).get("fieldSelector", [""])[0]
                    return self._send(200, fake._all_pods(selector))
                if url.path != f"/api/v1/namespaces/{fake.namespace}/pods":
                    return self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                selector = parse_qs(url.query).get("labelSelector", [""])[0]
                self._send(200, fake._pod_list(selector))

            def do_POST(self) -> None:  # noqa: N802
                self._write("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._write("PUT")

            def _write(self, method: str) -> None:
                url = urlparse(self.path)
                fake.request_counts[f"{method} {url.path}"] += 1
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if fake.failure:
                    return self._send(fake.failure, {"kind": "Status", "code": fake.failure})
                if not url.path.startswith("/apis/coordination.k8s.io/v1/namespaces/") or \
                        (method == "PUT") != (_lease_key(url.path) is not None):
                    return self._send(404, _status(404, "NotFound", "not found"))
                self._send(*fake._lease_write(method, url.path, body))

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        return Handler


def _field_matches(pod: dict, term: str) -> bool:
    """One field selector term over the fields the sidecar selects on."""
    negate = "!=" in term
    field, value = term.split("!=" if negate else "=", 1)
    actual = {"spec.nodeName": pod["node"] or "", "status.phase": pod["phase"]}[field]
    return (actual != value) if negate else (actual == value)


def _lease_key(path: str) -> tuple[str, str] | None:
    """(namespace, name) of a …/namespaces/{ns}/leases/{name} path, else None."""
    parts = path.strip("/").split("/")
    if len(parts) == 7 and parts[:3] == ["apis", "coordination.k8s.io", "v1"] and \
            parts[3] == "namespaces" and parts[5] == "leases":
        return parts[4], parts[6]
    return None


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}
