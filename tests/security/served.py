"""`jenkins-sidecar serve` in its own process, and the resident memory of its processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from hostile_inputs import rss_of  # noqa: E402  (the benchmark's measure, not a copy)


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """`jenkins-sidecar serve` in its own process group."""

    def __init__(self, tmp_path: Path, **settings: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
        env.update({"SIDECAR_BIND": f"127.0.0.1:{self.port}",
                    "SIDECAR_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
                    **{f"SIDECAR_{k.upper()}": v for k, v in settings.items()}})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sidecar.cli", "serve", "--threads", "4"], env=env,
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while not self._answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                pytest.fail("jenkins-sidecar serve did not start")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=2):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def rss(self) -> int:
        """Resident bytes of the server's processes together."""
        return rss_of(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
