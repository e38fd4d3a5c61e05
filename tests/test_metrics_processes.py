"""Metrics across processes: prometheus_client's multiprocess mode as serve sets it up.

We test these aspects:
- two processes writing into one directory: a scrape from a third sums their counters
  and histograms, takes the highest leader gauge, and forgets a dead process' gauge;
- `jenkins-sidecar serve` (a real process, SQLite): the page a gunicorn worker serves
  shows the engine's cycles and leadership, recorded in another process, and the
  directory is new for the start and gone after it;
- a start removes the directory a killed start left behind, never one a running service
  holds nor one it did not make.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.jenkins import FakeJenkins
from prometheus_client.parser import text_string_to_metric_families
from test_restart import ROOT, Server, _free_port, wait_for

WRITER = """
import sys
from sidecar.metrics import record
for _ in range(int(sys.argv[1])):
    record.webhook_received("gitlab")
    record.sync_cycle(0.2)
record.engine_leader(sys.argv[2] == "leader")
print(__import__("os").getpid())
"""
SCRAPER = """
import sys
from sidecar.metrics import exposition, multiprocess
from sidecar.store import Store
for pid in sys.argv[2:]:
    multiprocess.process_exited(int(pid))
store = Store(sys.argv[1])
store.migrate()
sys.stdout.write(exposition.render(store).decode())
"""
TOKEN = "0a1b2c3d4e5f60718293a4b5c6d7e8f901"


def _python(script: str, *args: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    return subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=120).stdout


def _samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_two_processes_writing_are_summed(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    database = f"sqlite:///{tmp_path / 'sidecar.db'}"
    leader = _python(WRITER, "2", "leader", directory=directory).strip()
    _python(WRITER, "3", "follower", directory=directory)
    merged = _samples(_python(SCRAPER, database, directory=directory))
    assert merged[("sidecar_webhooks_received_total", (("provider", "gitlab"),))] == 5
    assert merged[("sidecar_sync_cycle_duration_seconds_count", ())] == 5
    assert merged[("sidecar_sync_cycle_duration_seconds_sum", ())] == pytest.approx(1.0)
    assert merged[("sidecar_engine_leader", ())] == 1
    assert merged[("sidecar_executions", (("state", "Waiting"),))] == 0  # the database's
    gone = _samples(_python(SCRAPER, database, leader, directory=directory))
    assert gone.get(("sidecar_engine_leader", ()), 0) == 0  # the leader died
    assert gone[("sidecar_webhooks_received_total", (("provider", "gitlab"),))] == 5


def test_serve_merges_the_engine_into_the_workers_page(tmp_path):
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as fake:
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
               "TMPDIR": str(tmp_path), "SIDECAR_BIND": f"127.0.0.1:{_free_port()}",
               "SIDECAR_DATABASE_URL": f"sqlite:///{tmp_path / 'sidecar.db'}",
               "SIDECAR_JENKINS_URL": fake.url, "SIDECAR_JENKINS_USER": "sidecar",
               "SIDECAR_JENKINS_TOKEN": TOKEN, "SIDECAR_SYNC_INTERVAL": "0.1",
               "SIDECAR_KUBERNETES_API": "off"}
        server = Server(env)
        server.start()
        try:
            assert len(list(tmp_path.glob("sidecar-metrics-*"))) == 1

            def engine_seen():
                samples = _samples(server.call("GET", "/metrics"))
                return samples.get(("sidecar_sync_cycle_duration_seconds_count", ()), 0) > 0 \
                    and samples.get(("sidecar_engine_leader", ())) == 1 and samples
            samples = wait_for(engine_seen, "the engine's cycles on the worker's page")
            assert any(name == "sidecar_http_request_duration_seconds_count" and
                       ("route", "/healthz") in labels for name, labels in samples)
        finally:
            server.stop()
        assert not list(tmp_path.glob("sidecar-metrics-*"))


HOLDER = """
import sys
from sidecar.metrics import multiprocess
print(multiprocess.enable(sys.argv[1]), flush=True)
sys.stdin.read()  # hold the directory until the test closes stdin or kills us
"""


def test_a_start_removes_what_killed_starts_left_and_nothing_in_use(tmp_path):
    def holder() -> tuple[subprocess.Popen, Path]:
        process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=ROOT,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return process, Path(process.stdout.readline().strip())

    killed, left = holder()
    running, in_use = holder()
    foreign = tmp_path / "sidecar-metrics-not-ours"
    foreign.mkdir()
    try:
        killed.kill()
        killed.communicate(timeout=30)
        assert left.is_dir()
        starting, fresh = holder()  # it has started once it names its directory
        starting.communicate("", timeout=60)
        assert not left.exists()
        assert fresh.is_dir() and in_use.is_dir() and foreign.is_dir()
    finally:
        running.communicate("", timeout=60)
