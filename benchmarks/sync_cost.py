"""Jenkins requests per engine cycle with many running builds of which a few change.

Runs the real engine, store (SQLite) and HTTP API against the fake Jenkins of the test
suite (a real HTTP server on 127.0.0.1 that counts requests per endpoint), on a simulated
clock: each cycle is 3 s later (the default interval), so reconciliation (every 30 s by
default) comes when it would in production, however fast the cycles run here. The
scenario is tests/sync_simulation.py's: N running executions; each cycle, `changes` of
them move on by one step (the running step prints a line and its end is pushed
through the execution's callback before Jenkins closes the stage, then the next step
starts and pushes its start), in turn. Every change's visibility in the API is checked
after each cycle.

Printed per size: the start cycle (job writes, triggers, queue items, each new build's
first describe), the first look (the next cycle: every build's first step starts and
pushes), and the average per cycle over `--cycles` cycles after
`--warmup` cycles (by then the first reconciliations have spread out), by endpoint, next
to the target 2 + changes + running/10; and the most cycles a change took to show.
With ``--compare``, the same with ``--reconcile 0`` (every running build read every
cycle, the behaviour before following by changes).

Request counts are deterministic; wall time is not reported. Run by hand:

    .venv/bin/python benchmarks/sync_cost.py [--running 20,200,1000] [--changes 10]
        [--cycles 40] [--warmup 20] [--reconcile 30] [--compare]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sync_simulation import Cycle, Simulation  # noqa: E402

SHORT = {"/computer/api/json": "computer", "/job/{name}/{number}/wfapi/describe": "describe",
         "/job/{name}/{number}/execution/node/{node}/log/logText/progressiveText": "log"}


def measure(running: int, changes: int, cycles: int, warmup: int,
            reconcile: float) -> dict:
    """One size: the figures of its start, first look and steady cycles."""
    steps = math.ceil(changes * (cycles + warmup) / running) + 2
    with tempfile.TemporaryDirectory() as tmp:
        world = Simulation(f"sqlite:///{tmp}/bench.db", running=running, steps=steps,
                           reconcile=reconcile)
        try:
            start, first = world.start_cycle, world.cycle()
            for _ in range(warmup):
                world.step(changes)
            steady = [world.step(changes) for _ in range(cycles)]
            return {"running": running, "start": start.total, "first": first.total,
                    "steady": steady, "delay": max(world.delays, default=0),
                    "unseen": world.waiting}
        finally:
            world.close()


def show(figures: dict, changes: int, label: str) -> None:
    """Print one size's figures."""
    steady: list[Cycle] = figures["steady"]
    by_endpoint: Counter = Counter()
    for cycle in steady:
        by_endpoint.update(cycle.requests)
    average = sum(c.total for c in steady) / len(steady)
    parts = ", ".join(f"{SHORT.get(path, path)} {count / len(steady):.1f}"
                      for (_, path), count in sorted(by_endpoint.items()))
    target = 2 + changes + figures["running"] / 10
    print(f"{label}{figures['running']:5d} running: start cycle {figures['start']}, "
          f"first look {figures['first']}; per cycle {average:.1f} "
          f"(max {max(c.total for c in steady)}) [{parts}]; target {target:.0f}; "
          f"slowest change shown after {figures['delay']} cycle(s), "
          f"{figures['unseen']} not shown")


def main() -> None:
    """Measure each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--running", default="20,200,1000")
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--reconcile", type=float, default=30.0)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    for running in (int(n) for n in args.running.split(",")):
        figures = measure(running, args.changes, args.cycles, args.warmup, args.reconcile)
        show(figures, args.changes, "")
        if args.compare:
            show(measure(running, args.changes, args.cycles, args.warmup, 0.0), args.changes,
                 "every cycle: ")


if __name__ == "__main__":
    main()
