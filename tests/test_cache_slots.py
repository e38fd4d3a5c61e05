"""Slots claimed on the node: the pod's claim script under concurrency and after a kill.

The script is the `cache-slot` entry of podtemplates/tools.yaml, run as a pod would run
it (``sh -c``; here dash and util-linux ``flock`` stand in for busybox's applets). We test:
- six claimers started at once on one node directory each get a distinct slot, each
  slot's pods/<pod> symlink points at it, and the leaf cache directories exist;
- a claimer killed with SIGKILL loses its lock to the kernel: the next claimer gets
  exactly that slot while the others stay held;
- the warmest free slot (claimed most recently) is taken first, not the lowest.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = yaml.safe_load((ROOT / "podtemplates/tools.yaml").read_text())["cache-slot"]["script"]

pytestmark = pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock(1)")


class Claimer:
    """One pod's claim container, as a process."""

    def __init__(self, slots: Path, run: Path, pod: str):
        self.slot_file = run / f"{pod}.slot"
        env = {**os.environ, "SLOTS_DIR": str(slots), "POD_NAME": pod,
               "SLOT_FILE": str(self.slot_file), "LEAVES": "home-gradle-.gradle"}
        self.process = subprocess.Popen(["sh", "-c", SCRIPT, "cache-slot"], env=env)

    def slot(self) -> int:
        """The slot it claimed, once its slot file is written (the pod's startup probe)."""
        deadline = time.monotonic() + 30
        while not self.slot_file.exists():
            assert self.process.poll() is None, "the claimer exited"
            assert time.monotonic() < deadline, "no slot claimed in 30 s"
            time.sleep(0.02)  # polling the condition the startup probe polls
        return int(self.slot_file.read_text())

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def node(tmp_path):
    claimers: list[Claimer] = []
    slots, run = tmp_path / "pipeline" / "trusted", tmp_path / "run"
    run.mkdir()

    def start(pod: str) -> Claimer:
        claimers.append(Claimer(slots, run, pod))
        return claimers[-1]

    yield slots, start
    for claimer in claimers:
        if claimer.process.poll() is None:
            claimer.kill()


def test_concurrent_claimers_get_distinct_slots(node):
    slots, start = node
    claimers = [start(f"pod-{i}") for i in range(6)]
    taken = [c.slot() for c in claimers]
    assert sorted(taken) == list(range(6))
    for i, slot in enumerate(taken):
        assert os.readlink(slots / "pods" / f"pod-{i}") == f"../slot-{slot}"
        assert (slots / "pods" / f"pod-{i}" / "home-gradle-.gradle").is_dir()


def test_a_killed_claimer_frees_its_slot(node):
    slots, start = node
    claimers = [start(f"pod-{i}") for i in range(4)]
    taken = [c.slot() for c in claimers]
    victim = claimers[1]
    victim.kill()
    assert start("pod-next").slot() == taken[1]
    assert start("pod-last").slot() == 4  # the other three still hold theirs


def test_warmest_free_slot_first(node):
    slots, start = node
    first = [start(f"pod-{i}") for i in range(3)]
    assert sorted(c.slot() for c in first) == [0, 1, 2]
    for claimer in first:
        claimer.kill()
    now = time.time()
    for slot, age in ((0, 300), (1, 10), (2, 100)):  # slot 1 was claimed last
        os.utime(slots / f"slot-{slot}.lock", (now - age, now - age))
    assert start("pod-again").slot() == 1
