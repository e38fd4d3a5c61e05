"""`serve` runs the API in several worker processes that act as one, and keeps its engine.

We test this aspect with a real `jenkins-sidecar serve`:

- two workers, no secret key set, on loopback: a web UI form fetched from one worker is
  accepted by the other, because `serve` hands every worker the same key; a forged form
  token is still refused. Which worker answers is forced by pausing the other one
  (SIGSTOP), not left to chance;
- the engine process killed: `serve` starts another, which leads again; when `serve`
  stops, no process of the replica is left.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from fakes.jenkins import FakeJenkins
from replicas import TOKEN, Replica, environment, wait_for

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _paused(pid: int):
    class Pause:
        def __enter__(self):
            os.kill(pid, signal.SIGSTOP)

        def __exit__(self, *exc_info):
            os.kill(pid, signal.SIGCONT)
    return Pause()


def test_a_form_from_one_worker_is_accepted_by_another(tmp_path):
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
           "SIDECAR_DATABASE_URL": f"sqlite:///{tmp_path / 'sidecar.db'}",
           "SIDECAR_WORKERS": "2", "SIDECAR_KUBERNETES_API": "off"}
    replica = Replica("r0", env, tmp_path).start()
    try:
        (api,) = _children(replica.process.pid)  # no Jenkins: no engine beside the API
        first, second = wait_for(lambda: len(_children(api)) == 2 and _children(api),
                                 "two workers")
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with _paused(second):
            page = browser.open(replica.base + "/ui/validate", timeout=30).read().decode()
        token = CSRF.search(page).group(1)

        def post(csrf_token: str) -> int:
            form = urllib.parse.urlencode({"config": "stages: []", "csrf_token": csrf_token})
            request = urllib.request.Request(replica.base + "/ui/validate", data=form.encode(),
                                             headers={"Origin": replica.base})
            try:
                with _paused(first), browser.open(request, timeout=30) as answer:
                    return answer.status
            except urllib.error.HTTPError as answer:
                return answer.code

        assert post(token) == 200
        assert post("forged") == 400
    finally:
        replica.stop()


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_the_engine_process_is_restarted_and_stopped_with_serve(tmp_path):
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": TOKEN}) as fake:
        env = environment(f"sqlite:///{tmp_path / 'sidecar.db'}", fake.url)
        replica = Replica("r0", env, tmp_path).start()
        try:
            def engine_pid() -> int | None:
                found = [p for p in _children(replica.process.pid) if " engine" in _command(p)]
                return found[0] if found else None
            first = engine_pid()
            epoch = replica.engine()["epoch"]
            os.kill(first, signal.SIGKILL)
            wait_for(lambda: engine_pid() not in (None, first), "a new engine process")
            wait_for(lambda: replica.ready() and replica.engine()["epoch"] > epoch,
                     "the new engine to lead")
            processes = [replica.process.pid, *_children(replica.process.pid)]
        finally:
            replica.stop()
        assert not [p for p in processes if Path(f"/proc/{p}").exists()]
