"""Replicas of the sidecar for the scale tests: each a real `jenkins-sidecar serve` process.

Every replica runs in its own session (process group), so a test can SIGKILL, SIGSTOP or
SIGCONT all of its processes at once, as happens to a container or a frozen VM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "5f0c1e2d3b4a5968778695a4b3c2d1e0f9"
TTL = 2.0
CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: make}
"""


def wait_for(condition, what: str, timeout: float = 90.0):
    """Poll condition until it returns something true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(database_url: str, jenkins_url: str, **extra: str) -> dict[str, str]:
    """Settings shared by every replica: a small TTL and a fast engine keep the suite short."""
    return {"PATH": os.environ["PATH"], "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "SIDECAR_DATABASE_URL": database_url, "SIDECAR_JENKINS_URL": jenkins_url,
            "SIDECAR_JENKINS_USER": "sidecar", "SIDECAR_JENKINS_TOKEN": TOKEN,
            "SIDECAR_SYNC_INTERVAL": "0.2", "SIDECAR_SYNC_RECONCILE": "0",
            "SIDECAR_LEADER_TTL": str(TTL), "SIDECAR_KUBERNETES_API": "off",
            "SIDECAR_WORKERS": "1", "SIDECAR_RETENTION_INTERVAL": "0", **extra}


class Replica:
    """`jenkins-sidecar serve` in its own process group, named in the leader lease."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path):
        self.name = name
        self.env = {**env, "SIDECAR_INSTANCE_ID": name,
                    "SIDECAR_BIND": f"127.0.0.1:{free_port()}"}
        self.base = f"http://{self.env['SIDECAR_BIND']}"
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def launch(self) -> Replica:
        """Start the processes; return at once."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "serve"],
                                            env=self.env, cwd=ROOT, stdout=log, stderr=log,
                                            start_new_session=True)
        return self

    def start(self) -> Replica:
        """Start and wait until it is ready (its engine beats)."""
        self.launch()
        wait_for(self.ready, f"{self.name} to be ready")
        return self

    def signal(self, signum: int) -> None:
        """Send signum to every process of the replica at once."""
        os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> None:
        """Ask every process of the replica to stop (see `stop`)."""
        if self.process and self.process.poll() is None:
            self.signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.signal(signal.SIGTERM)

    def stop(self) -> None:
        """Stop the replica: SIGTERM, then SIGKILL after 30 s."""
        self.terminate()
        if self.process is None:
            return
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode())

    def readiness(self) -> tuple[int, dict] | None:
        """(status, body) of /readyz; None while nothing answers."""
        try:
            with urllib.request.urlopen(self.base + "/readyz", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as answer:
            return answer.code, json.loads(answer.read())
        except OSError:
            return None

    def ready(self) -> bool:
        answer = self.readiness()
        return answer is not None and answer[0] == 200

    def engine(self) -> dict:
        """The engine block of /readyz."""
        answer = self.readiness()
        return answer[1]["engine"] if answer else {}


def leader_of(replicas: list[Replica]) -> tuple[Replica, int] | None:
    """The replica whose engine leads, and its epoch, as a live replica reports it."""
    for replica in replicas:
        if replica.process.poll() is not None:
            continue
        engine = replica.engine()
        if engine and engine.get("leader"):
            named = [r for r in replicas if r.name == engine["leader"]]
            return (named[0], engine["epoch"]) if named else None
    return None


def lease_expired(database_url: str) -> bool:
    """True when the engine lease in the database has run out (read directly)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            expires = connection.execute(text(
                "SELECT expires_at FROM leader_lease WHERE name = 'engine'")).scalar()
    finally:
        engine.dispose()
    if isinstance(expires, str):  # SQLite keeps text
        expires = datetime.fromisoformat(expires)
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=timezone.utc)
    return expires is not None and expires < datetime.now(timezone.utc)


def script(build, result: str = "SUCCESS") -> None:
    """Run the one step of CONFIG in the fake Jenkins and end the build."""
    build.start_stage("step-0-0")
    build.append_log("step-0-0", f"make of {build.number}\n")
    build.finish_stage("step-0-0", result)
    build.finish(result)
