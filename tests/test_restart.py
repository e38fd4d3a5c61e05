"""A SIGKILL in the middle of ten runs loses nothing and duplicates nothing.

We test this aspect, on SQLite and PostgreSQL: `jenkins-sidecar serve` (a real process)
follows ten executions in the fake Jenkins; it is killed with SIGKILL while they run;
the builds go on and end (some failing) while it is down; after a restart every
execution reaches its true end state with each step's log archived exactly once, and
Jenkins saw exactly ten builds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fakes.jenkins import FakeJenkins
from sidecar.engine.starter import EXECUTION_PARAMETER

TOKEN = "5f0c1e2d3b4a5968778695a4b3c2d1e0f9"
CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: make}
- name: Test
  steps:
  - runScriptConfig: {image: alpine, shellScript: make test}
"""
ROOT = Path(__file__).resolve().parents[1]


def wait_for(condition, what: str, timeout: float = 60.0):
    """Poll condition until it returns something true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class Server:
    """`jenkins-sidecar serve` in its own process."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.base = f"http://{env['SIDECAR_BIND']}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "serve"],
                                        env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self._healthy, "the sidecar to answer")

    def kill(self) -> None:
        """SIGKILL every process of the service at once, as a crashed container."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return json.loads(text) if response.headers.get_content_type() == \
                "application/json" else text

    def _healthy(self) -> bool:
        try:
            return self.call("GET", "/healthz")["status"] == "ok"
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _script(build, *, fail: bool) -> None:
    build.start_stage("step-1-0")
    build.append_log("step-1-0", f"tests of {build.number}\n")
    build.finish_stage("step-1-0", "FAILED" if fail else "SUCCESS")
    build.finish("FAILED" if fail else "SUCCESS")


def test_sigkill_during_ten_runs(database_url):
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as fake:
        env = {"PATH": os.environ["PATH"], "SIDECAR_DATABASE_URL": database_url,
               "SIDECAR_JENKINS_URL": fake.url, "SIDECAR_JENKINS_USER": "sidecar",
               "SIDECAR_JENKINS_TOKEN": TOKEN, "SIDECAR_SYNC_INTERVAL": "0.1",
               "SIDECAR_KUBERNETES_API": "off", "SIDECAR_BIND": f"127.0.0.1:{_free_port()}",
               # Short waits, beside the point here: the restarted engine waits for the
               # killed one's lease to expire, and a stage that ends in a running build
               # (no push from the fake) shows at the next reconciliation.
               "SIDECAR_LEADER_TTL": "2", "SIDECAR_SYNC_RECONCILE": "0"}
        server = Server(env)
        server.start()
        try:
            server.call("POST", "/api/v1/pipelines", {"project": "p", "name": "app",
                                                      "inlineConfig": CONFIG})
            server.call("PUT", "/api/v1/settings/p", {"executorQuota": 0})
            ids = [server.call("POST", "/api/v1/pipelines/p:app/executions", {})["id"]
                   for _ in range(10)]
            wait_for(lambda: len(fake.builds) == 10, "ten builds")
            builds = {b.parameters[EXECUTION_PARAMETER]: b for b in fake.builds.values()}
            for execution_id, build in builds.items():
                build.start_stage("step-0-0")
                build.append_log("step-0-0", f"build of {execution_id}\n")
                build.finish_stage("step-0-0")
            wait_for(lambda: all(server.call("GET", f"/api/v1/executions/{i}")["steps"][0]
                                 ["state"] == "Success" for i in ids), "first steps synced")
            server.kill()
            for index, execution_id in enumerate(ids):
                _script(builds[execution_id], fail=index % 3 == 0)
            server.start()
            wait_for(lambda: all(server.call("GET", f"/api/v1/executions/{i}")["endedAt"]
                                 for i in ids), "every execution to end")
            for index, execution_id in enumerate(ids):
                execution = server.call("GET", f"/api/v1/executions/{execution_id}")
                expected = "Failed" if index % 3 == 0 else "Success"
                assert execution["state"] == expected
                assert [s["state"] for s in execution["steps"]] == ["Success", expected]
                build = builds[execution_id]
                assert server.call("GET", f"/api/v1/executions/{execution_id}/steps/0/0/log") \
                    == f"build of {execution_id}\n"
                assert server.call("GET", f"/api/v1/executions/{execution_id}/steps/1/0/log") \
                    == f"tests of {build.number}\n"
            assert len(fake.builds) == 10
        finally:
            server.stop()
