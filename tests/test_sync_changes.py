"""Following runs costs O(changes), not O(running), and changes still show at once.

We test these aspects (the engine against the fake Jenkins, on SQLite and PostgreSQL):
- the choice of runs to look at (pure): new builds, builds Jenkins no longer runs,
  pushes, a change under way and stop requests are looked at; the rest only when due
  for reconciliation, longest unseen first, at most running × interval / reconcile of
  them per cycle; with reconcile no longer than the interval, every run every cycle;
- request economy: 30 running builds, 3 changing per cycle (a step ends with output, the
  next starts, both pushed through the callback): at most 2 + changed + running/10
  Jenkins requests per cycle on average, and every change visible in the API within two
  cycles; with nothing changing, one request per cycle until reconciliation is due;
- within two cycles also when the push arrives in the middle of a cycle (after the
  engine chose what to look at), and when the end report comes before Jenkins closes the
  stage; a pause for an approval (which has no agent to push from) shows within two
  cycles of the step before it ending, and its end in the cycle after the decision
  reached Jenkins;
- without a push, a step's change costs nothing until the run is due for
  reconciliation, and shows then; a build that ends is seen the next cycle without a push;
- the step reports' own flow nodes are neither archived with the step's log nor read
  as its live log;
- step reports take only the execution's own token (401), name only its steps and the
  events start and end (404), say recorded false once the run ended, and never put the
  token in the log.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sync_simulation import Simulation

from sidecar.engine.follow import Followed, choose
from sidecar.engine.starter import EXECUTION_PARAMETER, TOKEN_PARAMETER
from sidecar.render import REPORT_LABEL
from sidecar.services import approvals, executions, pipelines
from sidecar.services.delivery import deliver
from sidecar.store.models import Execution, LogChunk

NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
COMPUTER = ("GET", "/computer/api/json")
DESCRIBE = ("GET", "/job/{name}/{number}/wfapi/describe")
APPROVAL = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: make}
- name: Approve
  steps:
  - approvalConfig: {message: Ship it?, submitters: [alice]}
- name: Deploy
  steps:
  - runScriptConfig: {image: alpine, shellScript: ./deploy}
"""


def _run(name, *, build=1, seen=NOW, **fields):
    return Followed(id=name, job="job", build=build, detailed_at=seen, **fields)


# -- the choice -----------------------------------------------------------------------------

def test_announced_and_ended_runs_are_chosen_the_rest_only_when_due():
    old = NOW - timedelta(seconds=31)
    runs = [_run("quiet", build=1), _run("new", build=2, seen=None),
            _run("pushed", build=3, pushes=2, pushes_seen=1),
            _run("under-way", build=4, look_again=True),
            _run("stopping", build=5, stop_requested=True), _run("ended", build=6),
            _run("queued", build=None), _run("due", build=7, seen=old)]
    running = frozenset(("job", n) for n in (1, 2, 3, 4, 5, 7))
    chosen = choose(runs, running, now=NOW, reconcile=30, interval=3)
    assert chosen == ["new", "pushed", "under-way", "stopping", "ended", "queued", "due"]
    assert choose(runs, None, now=NOW, reconcile=3, interval=3) == [r.id for r in runs]


def test_reconciliation_takes_the_longest_unseen_and_spreads_them():
    runs = [_run(f"r{i}", build=i, seen=NOW - timedelta(seconds=100 + i)) for i in range(40)]
    running = frozenset(("job", i) for i in range(40))
    chosen = choose(runs, running, now=NOW, reconcile=30, interval=3)
    assert chosen == [f"r{i}" for i in range(36, 40)]  # ceil(40 × 3 / 30) = 4, oldest first
    recent = [_run(f"r{i}", build=i, seen=NOW - timedelta(seconds=29)) for i in range(40)]
    assert choose(recent, running, now=NOW, reconcile=30, interval=3) == []


# -- against the fake Jenkins ---------------------------------------------------------------

@pytest.fixture
def simulation(database_url):
    world = Simulation(database_url, running=30)
    yield world
    world.close()
    assert world.fake.errors == []


def test_requests_grow_with_changes_not_with_running_builds(simulation):
    assert simulation.cycle().requests[DESCRIBE] == 30  # every first step started
    for _ in range(20):  # the first reconciliations spread the runs over ten cycles
        simulation.step(3)
    measured = [simulation.step(3) for _ in range(30)]
    average = sum(c.total for c in measured) / len(measured)
    assert average <= 2 + 3 + 30 / 10, [dict(c.requests) for c in measured]
    assert all(c.requests[COMPUTER] == 1 for c in measured)
    assert max(simulation.delays) <= 2 and simulation.waiting == 0
    assert len(simulation.delays) == simulation.changes  # every start and end was seen


def test_nothing_changing_costs_one_request_a_cycle_until_reconciliation(simulation):
    simulation.cycle()
    quiet = [simulation.cycle() for _ in range(9)]  # 27 s: nobody is due yet
    assert [c.total for c in quiet] == [1] * 9
    due = simulation.cycle()  # 30 s after the first look: the budget, oldest first
    assert due.requests == {COMPUTER: 1, DESCRIBE: 3}


def test_a_push_in_the_middle_of_a_cycle_shows_in_the_next(simulation):
    simulation.cycle()
    build = simulation.builds[0]
    execution_id = build.parameters[EXECUTION_PARAMETER]
    # The push arrives after the engine chose what to look at, before it asks Jenkins.
    simulation.fake.before_request("GET", "/computer/api/json",
                                   lambda: simulation._move(build))
    first = simulation.cycle()
    assert first.requests[DESCRIBE] == 0
    assert _step_states(simulation, execution_id)[:2] == ["Building", "Waiting"]
    second = simulation.cycle()
    assert second.requests[DESCRIBE] == 1
    assert _step_states(simulation, execution_id)[:2] == ["Success", "Building"]


def test_an_end_reported_before_jenkins_closes_the_stage_is_looked_for_again(simulation):
    simulation.cycle()
    build = simulation.builds[0]
    execution_id = build.parameters[EXECUTION_PARAMETER]
    build.report("step-0-0", REPORT_LABEL)
    simulation._push(build, 0, "end")  # the post block reports; the stage is still open
    assert simulation.cycle().requests[DESCRIBE] == 1
    assert _step_states(simulation, execution_id)[0] == "Building"
    build.finish_stage("step-0-0", "SUCCESS")
    assert simulation.cycle().requests[DESCRIBE] == 1  # looked again, with no new push
    assert _step_states(simulation, execution_id)[0] == "Success"
    assert simulation.cycle().requests[DESCRIBE] == 0  # and no more


def test_a_change_without_a_push_waits_for_reconciliation(simulation):
    simulation.cycle()
    build = simulation.builds[0]
    execution_id = build.parameters[EXECUTION_PARAMETER]
    build.finish_stage("step-0-0", "SUCCESS")  # a lost push
    for _ in range(9):
        assert simulation.cycle().requests[DESCRIBE] == 0
    assert _step_states(simulation, execution_id)[0] == "Building"
    simulation.cycle()  # 30 s: build 0 is among the oldest three
    assert _step_states(simulation, execution_id)[0] == "Success"


def test_a_build_that_ends_is_seen_without_a_push(simulation):
    simulation.cycle()
    build = simulation.builds[5]
    build.finish_stage("step-0-0", "SUCCESS")
    build.finish("SUCCESS")
    assert simulation.cycle().requests[DESCRIBE] == 1
    with simulation.store.session() as session:
        assert executions.get(session, build.parameters[EXECUTION_PARAMETER]).state == "Success"


def test_report_steps_are_not_the_steps_log(simulation):
    simulation.cycle()
    build = simulation.builds[0]
    execution_id = build.parameters[EXECUTION_PARAMETER]
    simulation._move(build)
    simulation.cycle()
    with simulation.store.session() as session:
        execution = executions.get(session, execution_id)
        first, second = execution.steps[:2]
        stage = build.stages["step-0-0"]
        texts = session.scalars(select(LogChunk.text).where(
            LogChunk.execution_id == execution_id, LogChunk.stage_index == 0)).all()
        assert texts == [f"step 0 of #{build.number} done\n"]
        assert first.jenkins_node_id == stage.log_node_id
        assert second.jenkins_node_id == build.stages["step-1-0"].log_node_id
        assert stage.before and stage.after  # the reports were there to be skipped


def _step_states(simulation, execution_id) -> list[str]:
    return [s["state"] for s in
            simulation.http.get(f"/api/v1/executions/{execution_id}").json["steps"]]


# -- approvals, which cannot push -----------------------------------------------------------

def test_an_approval_shows_within_two_cycles_of_the_step_before_and_its_end_at_once(
        simulation):
    with simulation.store.session() as session:
        pipelines.create(session, {"project": "bench", "name": "gated", "inlineConfig": APPROVAL})
        execution_id = executions.trigger(session, "bench:gated", executions.TriggerRequest()).id
    simulation.cycle()  # started
    (build,) = [b for b in simulation.fake.builds.values()
                if b.parameters[EXECUTION_PARAMETER] == execution_id]
    simulation.cycle()  # nothing to push from yet: the build waits for its pod
    build.start_stage("step-0-0", report=REPORT_LABEL)
    simulation._push(build, 0, "start")
    build.report("step-0-0", REPORT_LABEL)
    simulation._push(build, 0, "end")
    build.finish_stage("step-0-0")
    simulation.cycle()  # Build ended; the approval comes next and will not push
    build.start_stage("step-1-0")
    build.pause_for_input("Approval-1-0", "Ship it?")
    simulation.cycle()
    assert _step_states(simulation, execution_id) == ["Success", "Pending", "Waiting"]
    with simulation.store.session() as session:
        assert executions.get(session, execution_id).state == "Pending"
        (approval,) = approvals.of_execution(session, execution_id)
        approval.state = "Approved"
        approval.decision = {"approve": True, "parameters": {}, "via": "sidecar",
                             "comment": "", "deliveredAt": None, "deliveryAttempts": 0,
                             "deliveryError": None}
    assert deliver(simulation.store, simulation.client, approval.id)
    build.finish_stage("step-1-0")  # past the input, the run goes on in Jenkins
    assert simulation.cycle().requests[DESCRIBE] == 1  # the delivery asked for a look
    assert _step_states(simulation, execution_id) == ["Success", "Success", "Waiting"]


# -- step reports ---------------------------------------------------------------------------

def test_step_reports_take_only_the_executions_own_token(simulation, caplog):
    caplog.set_level(logging.DEBUG)
    first, second = simulation.builds[:2]
    mine, theirs = (b.parameters[EXECUTION_PARAMETER] for b in (first, second))
    token = first.parameters[TOKEN_PARAMETER]

    def report(execution_id, path, secret):
        return simulation.http.post(f"/api/v1/callbacks/executions/{execution_id}/steps/{path}",
                                    headers={"Authorization": f"Bearer {secret}"})
    pushes = _pushes(simulation, mine)
    assert report(mine, "0/0/start", token).json == {"recorded": True}
    assert report(theirs, "0/0/start", token).status_code == 401
    assert report(mine, "0/0/start", second.parameters[TOKEN_PARAMETER]).status_code == 401
    assert report(mine, "0/0/start", "").status_code == 401
    assert report("bench:svc-999", "0/0/start", token).status_code == 401
    assert report(mine, "0/0/begin", token).status_code == 404
    assert report(mine, "99/0/end", token).status_code == 404
    assert report(mine, "0/99999999999/end", token).status_code == 404
    with simulation.store.session() as session:
        execution = session.get(Execution, mine)
        assert execution.pushes == pushes + 1 and not execution.steps[0].end_reported
        assert report(mine, "0/0/end", token).json == {"recorded": True}
        session.refresh(execution.steps[0])
        assert execution.steps[0].end_reported
        executions.finish(execution, "Aborted", "stopped")
    assert report(mine, "0/0/end", token).json == {"recorded": False}
    assert token not in caplog.text


def _pushes(simulation, execution_id) -> int:
    with simulation.store.session() as session:
        return session.get(Execution, execution_id).pushes
