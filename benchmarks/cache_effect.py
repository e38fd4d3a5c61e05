"""What a warm cache directory saves for real installs from the public registries.

For each tool, a realistic dependency set is installed ``--repeat`` times with an
empty cache directory (cold) and ``--repeat`` times with the cache directory a
previous install left (warm, what the rendered pod mounts from the node). Everything
else is fresh each time: a new ``--target`` directory for pip, a new project with no
``node_modules`` for npm. The median wall-clock seconds of each are printed with
their ratio.

* pip: ``pip install --target`` of a web-service set (Flask, SQLAlchemy, pydantic,
  boto3, pandas, ...) from PyPI; the machine's pip configuration (local mirrors,
  find-links) is switched off so downloads really come from PyPI.
* npm: ``npm ci --ignore-scripts`` of a front-end/back-end set (express, react,
  webpack, typescript, eslint, ...) from a lockfile made once beforehand from the npm
  registry, as a CI job runs it. Scripts are skipped: they would time the packages'
  own build steps, not the cache.

Each cold run downloads the whole set, so keep ``--repeat`` small (default 3) and
do not run this in a loop: it is a measurement, not a load test.

Run: ``.venv/bin/python benchmarks/cache_effect.py [--repeat N] [--tool pip|npm]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIP_SET = ["requests", "flask", "sqlalchemy", "pydantic", "boto3", "celery", "redis",
           "psycopg[binary]", "alembic", "gunicorn", "pyyaml", "click", "rich", "httpx",
           "python-dateutil", "jsonschema", "cryptography", "numpy", "pandas", "pytest"]
NPM_SET = {"express": "^4", "react": "^18", "react-dom": "^18", "lodash": "^4",
           "axios": "^1", "webpack": "^5", "webpack-cli": "^5", "typescript": "^5",
           "eslint": "^8", "dayjs": "^1", "uuid": "^9", "chalk": "^4", "commander": "^11",
           "body-parser": "^1", "jsonwebtoken": "^9", "mongoose": "^8", "dotenv": "^16",
           "cors": "^2", "morgan": "^1", "babel-loader": "^9", "@babel/core": "^7"}


def clean_env() -> dict:
    """The environment without pip or npm settings that point at local mirrors."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "NPM_"))}
    return {**env, "PIP_CONFIG_FILE": os.devnull}


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    """Seconds one command takes; its failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def pip_install(work: Path, cache: Path, env: dict) -> float:
    """One pip install of the set into a fresh target directory."""
    target = work / "target"
    shutil.rmtree(target, ignore_errors=True)
    return timed([sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
                  "--no-input", "--quiet", "--cache-dir", str(cache), "--target", str(target),
                  *PIP_SET], work, env)


def npm_project(work: Path) -> Path:
    """A project with the set and its lockfile, made once from the npm registry."""
    project = work / "template"
    project.mkdir(parents=True)
    (project / "package.json").write_text(json.dumps(
        {"name": "cache-effect", "version": "1.0.0", "private": True, "dependencies": NPM_SET}))
    (project / ".npmrc").write_text("registry=https://registry.npmjs.org/\naudit=false\n"
                                    "fund=false\nupdate-notifier=false\n")
    timed(["npm", "install", "--package-lock-only", "--ignore-scripts", "--cache",
           str(work / "lock-cache"), "--userconfig", os.devnull], project, clean_env())
    return project


def npm_ci(work: Path, cache: Path, env: dict) -> float:
    """One npm ci of the lockfile in a fresh copy of the project."""
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(work / "template", project)
    return timed(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--cache",
                  str(cache), "--userconfig", os.devnull], project, env)


def measure(tool: str, repeat: int) -> tuple[float, float]:
    """Median cold and warm seconds for one tool."""
    env = clean_env()
    with tempfile.TemporaryDirectory(prefix=f"cache-effect-{tool}-") as tmp:
        work = Path(tmp)
        if tool == "npm":
            npm_project(work)
        install = pip_install if tool == "pip" else npm_ci
        cold = []
        for i in range(repeat):
            cold.append(install(work, work / f"cold-cache-{i}", env))
            if i < repeat - 1:
                shutil.rmtree(work / f"cold-cache-{i}")
        warm_cache = work / f"cold-cache-{repeat - 1}"  # the last cold run filled it
        warm = [install(work, warm_cache, env) for _ in range(repeat)]
    return statistics.median(cold), statistics.median(warm)


def main() -> None:
    """Measure the tools asked for and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tool", choices=["pip", "npm"], action="append")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores, "
          f"{args.repeat} runs each, median seconds")
    for tool in args.tool or ["pip", "npm"]:
        cold, warm = measure(tool, args.repeat)
        print(f"{tool}: cold {cold:.1f} s, warm {warm:.1f} s, {cold / warm:.2f}x")


if __name__ == "__main__":
    main()
