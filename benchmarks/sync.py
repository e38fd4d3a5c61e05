"""Jenkins requests and time of one sync cycle with 200 running executions.

Runs the real engine against the fake Jenkins of the test suite (a real HTTP server on
127.0.0.1) with a SQLite store. All 200 executions are started first; then cycles are
measured while builds progress: in each, a tenth of the builds finish a step (new log
output), and at the end every build finishes. Printed per cycle: requests by endpoint
and wall time. The targets (issue 3): at most one state request per running execution,
log requests only for steps that ended with new output, none for finished executions.

Run by hand: ``.venv/bin/python benchmarks/sync.py [--executions 200] [--cycles 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.jenkins import FakeJenkins  # noqa: E402

from sidecar.config.templates import load_templates  # noqa: E402
from sidecar.engine.loop import Engine  # noqa: E402
from sidecar.engine.starter import EXECUTION_PARAMETER  # noqa: E402
from sidecar.jenkins import JenkinsClient  # noqa: E402
from sidecar.services import executions, pipelines, projects  # noqa: E402
from sidecar.store import Store  # noqa: E402

TOKEN = "0123456789abcdef0123456789abcdef"
CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go build ./...}
  - runScriptConfig: {image: golang:1.23, shellScript: go vet ./...}
- name: Test
  steps:
  - runScriptConfig: {image: golang:1.23, shellScript: go test ./...}
"""
STEPS = ("step-0-0", "step-0-1", "step-1-0")


def measured_cycle(engine: Engine, fake: FakeJenkins) -> tuple[Counter, float]:
    """Requests by (method, endpoint) and seconds of one engine cycle."""
    fake.request_counts.clear()
    start = time.perf_counter()
    engine.cycle()
    return Counter(fake.request_counts), time.perf_counter() - start


def show(label: str, counts: Counter, seconds: float, running: int) -> None:
    """Print one cycle's figures."""
    total = sum(counts.values())
    print(f"{label}: {running} running, {total} requests, {seconds * 1000:.0f} ms")
    for (method, endpoint), count in sorted(counts.items()):
        print(f"    {count:5d}  {method} {endpoint}")


def main() -> None:
    """Start the executions, then measure cycles."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as fake:
        store = Store(f"sqlite:///{tmp}/bench.db")
        store.migrate()
        with store.session() as session:
            pipelines.create(session, {"project": "bench", "name": "svc", "inlineConfig": CONFIG})
            projects.update_settings(session, "bench", {"executorQuota": 0})
            for _ in range(args.executions):
                executions.trigger(session, "bench:svc", executions.TriggerRequest())
        client = JenkinsClient(url=fake.url, user="sidecar", token=TOKEN)
        engine = Engine(store=store, jenkins=client, templates=load_templates(), queue_wait=10)
        counts, seconds = measured_cycle(engine, fake)
        show("start cycle", counts, seconds, 0)
        builds = list(fake.builds.values())
        for build in builds:
            build.start_stage(STEPS[0])
        times = []
        for cycle in range(args.cycles):
            for build in builds[cycle::10]:  # a tenth of the builds end a step with output
                build.append_log(STEPS[0], f"{build.parameters[EXECUTION_PARAMETER]} done\n")
                build.finish_stage(STEPS[0])
            counts, seconds = measured_cycle(engine, fake)
            times.append(seconds)
            show(f"cycle {cycle + 1}", counts, seconds, len(builds))
        for build in builds:
            build.finish("SUCCESS")
        show("all finish", *measured_cycle(engine, fake), len(builds))
        show("after the end", *measured_cycle(engine, fake), 0)
        print(f"median cycle with {len(builds)} running: {statistics.median(times) * 1000:.0f} ms")
        client.close()
        store.dispose()


if __name__ == "__main__":
    main()
