"""Many running builds, a few changing each cycle: what following them costs, and how soon a
change shows in the API.

The real engine, store and HTTP API against the fake Jenkins, on a simulated clock (each
cycle is ``interval`` seconds later). Each run is one execution of a pipeline of
``steps`` one-step stages, rendered with a callback URL. A change is what a sequential
pipeline does between two steps: the running step prints a line and runs its end report
(pushed through the callback before Jenkins closes the stage), the stage ends, the next
one starts and its start report is pushed; the last step's change ends the build. The
runs change in turn, ``changes`` per cycle. Used by tests/test_sync_changes.py and
benchmarks/sync_cost.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import cycle as round_robin

from fakes.jenkins import FakeJenkins

from sidecar.app import create_app
from sidecar.config.templates import load_templates
from sidecar.engine.loop import Engine
from sidecar.engine.starter import EXECUTION_PARAMETER, TOKEN_PARAMETER
from sidecar.jenkins import JenkinsClient
from sidecar.render import REPORT_LABEL
from sidecar.services import executions, pipelines, projects

API_TOKEN = "0123456789abcdef0123456789abcdef"
CALLBACK_URL = "http://jenkins-sidecar.jenkins:8081"


class SimulatedClock:
    """Now, as the engine sees it; moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.now += timedelta(seconds=seconds)


@dataclass
class Cycle:
    """What one engine cycle asked of Jenkins."""

    requests: Counter = field(default_factory=Counter)
    changed: int = 0

    @property
    def total(self) -> int:
        """Requests of the cycle."""
        return sum(self.requests.values())


class Simulation:
    """N running executions against the fake Jenkins; `step` moves time and builds on."""

    def __init__(self, database_url: str, *, running: int, steps: int = 8,
                 reconcile: float = 30.0, interval: float = 3.0):
        self.interval, self.steps = interval, steps
        self.clock = SimulatedClock()
        self.fake = FakeJenkins(auto_start=True, api_tokens={"sidecar": API_TOKEN}).start()
        self.app = create_app({"TESTING": True, "database_url": database_url})
        self.store = self.app.extensions["sidecar"].store
        self.http = self.app.test_client()
        self.client = JenkinsClient(url=self.fake.url, user="sidecar", token=API_TOKEN)
        self.engine = Engine(store=self.store, jenkins=self.client, templates=load_templates(),
                             interval=interval, reconcile=reconcile, clock=self.clock,
                             callback_url=CALLBACK_URL, queue_wait=10)
        self._create(running)
        self.start_cycle = self.cycle()
        self.builds = sorted(self.fake.builds.values(), key=lambda b: b.number)
        self._turns = round_robin(self.builds)
        self._position = {build.number: 0 for build in self.builds}
        self._unseen: dict[tuple[str, int, int], int] = {}  # change -> cycles since
        self.delays: list[int] = []
        self.changes = 0
        for build in self.builds:
            self._enter(build, 0)

    def close(self) -> None:
        """Stop the fake and release the store."""
        self.client.close()
        self.fake.stop()
        self.store.dispose()

    def cycle(self, changed: int = 0) -> Cycle:
        """One engine cycle, then the clock moves on by one interval."""
        before = self.fake.request_counts.copy()
        self.engine.cycle()
        self.clock.advance(self.interval)
        return Cycle(self.fake.request_counts - before, changed)

    def step(self, changes: int) -> Cycle:
        """Let `changes` runs move on by one step, then run a cycle and check visibility."""
        for _ in range(changes):
            self._move(next(self._turns))
        result = self.cycle(changes)
        self._check_visible()
        return result

    # -- the builds, as their Jenkinsfile would run them --------------------------------

    def _create(self, running: int) -> None:
        config = "stages:\n" + "".join(
            f"- name: S{i}\n  steps:\n  - runScriptConfig: {{image: alpine, shellScript: "
            f"make s{i}}}\n" for i in range(self.steps))
        with self.store.session() as session:
            pipelines.create(session, {"project": "bench", "name": "svc",
                                       "inlineConfig": config})
            projects.update_settings(session, "bench", {"executorQuota": 0})
        for _ in range(running):
            with self.store.session() as session:
                executions.trigger(session, "bench:svc", executions.TriggerRequest())

    def _enter(self, build, index: int) -> None:
        name = f"step-{index}-0"
        build.start_stage(name, report=REPORT_LABEL)
        self._push(build, index, "start")
        self._unseen[(build.parameters[EXECUTION_PARAMETER], index, 0)] = 0
        self.changes += 1

    def _move(self, build) -> None:
        index = self._position[build.number]
        if build.result is not None or index >= self.steps:
            return
        name = f"step-{index}-0"
        build.append_log(name, f"step {index} of #{build.number} done\n")
        build.report(name, REPORT_LABEL)  # the end report runs in `post`, before the close
        self._push(build, index, "end")
        build.finish_stage(name, "SUCCESS")
        self._unseen[(build.parameters[EXECUTION_PARAMETER], index, 1)] = 0
        self.changes += 1
        self._position[build.number] = index + 1
        if index + 1 < self.steps:
            self._enter(build, index + 1)
        else:
            build.finish("SUCCESS")

    def _push(self, build, index: int, event: str) -> None:
        execution_id = build.parameters[EXECUTION_PARAMETER]
        token = build.parameters[TOKEN_PARAMETER]
        answer = self.http.post(f"/api/v1/callbacks/executions/{execution_id}/steps/"
                                f"{index}/0/{event}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.json

    def _check_visible(self) -> None:
        """Each change waiting to show: shown now? (key: execution, step, 0 start / 1 end)."""
        for key in list(self._unseen):
            self._unseen[key] += 1
            execution_id, index, ended = key
            step = self.http.get(f"/api/v1/executions/{execution_id}").json["steps"][index]
            if step["state"] == "Success" or (step["state"] == "Building" and not ended):
                self.delays.append(self._unseen.pop(key))

    @property
    def waiting(self) -> int:
        """Changes not visible yet."""
        return len(self._unseen)

    def executions_of(self, state: str) -> int:
        """How many executions are in a state."""
        with self.store.session() as session:
            return len(executions.listing(session, state=state, limit=100_000))
