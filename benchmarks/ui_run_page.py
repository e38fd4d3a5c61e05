"""How fast the web UI opens a big run: 50 stages of 2 steps, a step with a 10 MB log.

The run is written to a fresh store as the engine leaves an ended run: step states and
times, and the step's log archived in chunks at their byte offsets (``--chunk-mb``: 1 MB
by default; Jenkins may also hand a whole log over in one piece, ``--chunk-mb 10``).
The app is the one ``create_app`` builds (anonymous, loopback), called through Flask's
test client, so the times are the server's own work — rendering and database — without
a network or a browser. Each request is timed ``--repeat`` times after one warm-up:

* the run page with that step chosen (graph of 50 stages, the log's last page inline);
* the live fragment the page's script re-fetches (summary and graph);
* the log's last page, and the page before it, as the script asks for them (JSON).

Run: ``.venv/bin/python benchmarks/ui_run_page.py [--database-url URL] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sidecar.app import create_app
from sidecar.services import executions, pipelines
from sidecar.store.models import LogChunk, utcnow

STAGES = 50
LOG_BYTES = 10 * 1024 * 1024


def _config() -> str:
    return "stages:\n" + "".join(
        f"- name: Stage {s}\n  steps:\n"
        f"  - runScriptConfig: {{image: alpine, shellScript: make part-{s}-a}}\n"
        f"  - runScriptConfig: {{image: alpine, shellScript: make part-{s}-b}}\n"
        for s in range(STAGES))


def _log_chunks(chunk_bytes: int) -> list[str]:
    line = "{:07d} compiling module {:3d} of the monorepo, all fine ✓\n"
    lines = [line.format(n, n % 977) for n in range(LOG_BYTES // len(line.format(0, 0).encode()))]
    chunks, current, size = [], [], 0
    for text in lines:
        current.append(text)
        size += len(text.encode())
        if size >= chunk_bytes:
            chunks.append("".join(current))
            current, size = [], 0
    return chunks + (["".join(current)] if current else [])


def _big_run(store, chunk_bytes: int) -> int:
    with store.session() as session:
        pipelines.create(session, {"project": "bench", "name": "mono", "inlineConfig": _config()})
        execution = executions.trigger(session, "bench:mono", executions.TriggerRequest())
        now = utcnow()
        for step in execution.steps:
            step.state, step.started_at, step.ended_at = "Success", now, now
        first = execution.steps[0]
        for chunk in _log_chunks(chunk_bytes):
            session.add(LogChunk(execution_id=execution.id, stage_index=0, step_index=0,
                                 offset=first.log_offset, text=chunk))
            first.log_offset += len(chunk.encode())
        execution.state, execution.started_at, execution.ended_at = "Success", now, now
        return execution.run


def _time(client, path: str, repeat: int) -> tuple[list[float], int]:
    client.get(path)
    times, size = [], 0
    for _ in range(repeat):
        begin = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - begin) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        size = len(response.data)
    return times, size


def main() -> None:
    """Build the run, time the requests, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--chunk-mb", type=float, default=1.0)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    app = create_app({"TESTING": True, "database_url": url})
    run = _big_run(app.extensions["sidecar"].store, int(args.chunk_mb * 1024 * 1024))
    client = app.test_client()
    base = f"/ui/pipelines/bench:mono/runs/{run}"
    tail = client.get(f"{base}/steps/0/0/log").json
    requests = [("run page, step 1 chosen", f"{base}?step=0.0"),
                ("live fragment", f"{base}/live?step=0.0"),
                ("log: last page", f"{base}/steps/0/0/log"),
                ("log: the page before", f"{base}/steps/0/0/log?before={tail['start']}")]
    print(f"{STAGES} stages x 2 steps, log {tail['size'] / 1e6:.1f} MB in "
          f"{args.chunk_mb:g} MB chunks, {url.split(':')[0]}, {args.repeat} requests each")
    print("| request | median | p90 | response |")
    print("| --- | --- | --- | --- |")
    for name, path in requests:
        times, size = _time(client, path, args.repeat)
        median, p90 = statistics.median(times), statistics.quantiles(times, n=10)[-1]
        print(f"| {name} | {median:.1f} ms | {p90:.1f} ms | {size / 1024:.0f} KB |")
    app.extensions["sidecar"].store.dispose()


if __name__ == "__main__":
    main()
