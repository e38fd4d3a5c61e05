"""Drive tests/groovy/Recorder.groovy: one Groovy 2.4 process compiles and records many Jenkinsfiles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

HARNESS = Path(__file__).parent / "groovy" / "Recorder.groovy"


class GroovyError(AssertionError):
    """Groovy could not compile or run a Jenkinsfile."""


class GroovyRecorder:
    """A long-running Groovy process answering one Jenkinsfile per request."""

    def __init__(self) -> None:
        groovy = shutil.which("groovy")
        if groovy is None:
            raise RuntimeError("groovy is not installed; run `make system-deps`")
        env = {**os.environ, "JAVA_HOME": os.environ.get("JAVA_HOME", "/usr/lib/jvm/default-java")}
        self._process = subprocess.Popen(
            [groovy, str(HARNESS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, encoding="utf-8", env=env)

    def record(self, jenkinsfile: str) -> list[dict[str, Any]]:
        """Compile and run one Jenkinsfile; return the tree of DSL calls."""
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps({"text": jenkinsfile}) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"groovy exited with {self._process.wait()}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise GroovyError(answer["error"])
        return answer["calls"]

    def close(self) -> None:
        """Stop the Groovy process."""
        self._process.stdin.close()
        self._process.wait(timeout=30)
        self._process.stdout.close()


def walk(calls: list[dict]) -> Iterator[dict]:
    """Every recorded call, depth first, in execution order."""
    for call in calls:
        yield call
        yield from walk(call["children"])


def find(calls: list[dict], name: str) -> list[dict]:
    """All calls with the given DSL name."""
    return [call for call in walk(calls) if call["name"] == name]
