"""Render time of a large pipeline, next to the time PyYAML takes just to load its text.

The config is generated in code, deterministically: 10 components x 5 phases (Build,
Test, Lint, Package, Deploy) = 50 uniquely named stages of 3 parallel steps each, 150
steps in all. Most steps are ``runScriptConfig`` with multi-line shell scripts on seven
images (steps with the same image and env share one container, the others get their
own); each component also builds an image (``publishImageConfig``, kaniko cache) and
applies manifests (``applyYamlConfig``, by path and inline). Stage and step caches,
env, ``when`` on branch and event (some steps are skipped on a push to main) and
timeouts are spread over the stages.

Two things are timed with ``time.perf_counter``, ``--repeat`` times each after one
warm-up call:

* full render: ``config.parse_pipeline`` (positioned load, schema and semantic
  validation, model) + ``cache.place`` (12-entry history) + ``render.render``
  (Jenkinsfile, pod YAML, config.xml); templates are loaded once, before timing, as
  the service does;
  with the project setting ``scriptSplitting`` on, since 200 declarative stages pass
  the method budget of an unsplit pipeline block;
* baseline: ``yaml.safe_load`` of the same text (PyYAML's pure-Python SafeLoader;
  the sidecar's loader uses libyaml's CSafeLoader when PyYAML has it).

Run: ``make bench``, i.e. ``.venv/bin/python benchmarks/render.py``; options
``--repeat N`` (default 30) and ``--write PATH`` (where to save the generated config;
by default it goes to the system temp directory).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import yaml

from sidecar import cache, config, render
from sidecar.config.templates import load_templates

PHASES = ["Build", "Test", "Lint", "Package", "Deploy"]
COMPONENTS = ["accounts", "billing", "catalog", "checkout", "gateway",
              "inventory", "ledger", "notify", "search", "shipping"]
# Per language: build image, cache paths, the tool's env and build/test/lint commands.
LANGUAGES = [
    {"image": "maven:3.9.9-eclipse-temurin-21", "cache": ["/root/.m2/repository"],
     "env": {"MAVEN_OPTS": "-Xmx1g -XX:+UseParallelGC"},
     "build": "mvn -B -ntp -Daether.syncContext.named.factory=file-lock -DskipTests package",
     "test": "mvn -B -ntp verify", "lint": "mvn -B -ntp spotless:check"},
    {"image": "node:20.18-bookworm", "cache": ["/root/.npm"],
     "env": {"NODE_OPTIONS": "--max-old-space-size=2048"},
     "build": "npm ci --prefer-offline && npm run build",
     "test": "npm test -- --ci --reporters=default", "lint": "npx eslint --max-warnings 0 src"},
    {"image": "golang:1.23.4", "cache": ["/go/pkg/mod", "/root/.cache/go-build"],
     "env": {"GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"},
     "build": "go build -trimpath -o bin/ ./...",
     "test": "go test -race -count=1 ./...",
     "lint": "go vet ./... && test -z \"$(gofmt -l .)\""},
    {"image": "python:3.12-slim", "cache": ["/root/.cache/pip"],
     "env": {"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
     "build": "pip install -r requirements.txt && python -m build --wheel",
     "test": "python -m pytest -q --junitxml=reports/junit.xml",
     "lint": "ruff check . && ruff format --check ."},
]
SCANNER = "aquasec/trivy:0.57.1"
DOCKERFILE_LINT = "hadolint/hadolint:v2.12.0-debian"
CURL = "curlimages/curl:8.11.0"
MANIFEST = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-release
  namespace: staging
data:
  sequence: "${{CICD_EXECUTION_SEQUENCE}}"
  commit: "${{CICD_GIT_COMMIT}}"
"""


class BlockDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as `|` blocks, as people write them."""

    def ignore_aliases(self, data) -> bool:
        """Never emit anchors/aliases: people write repeated values out."""
        return True


BlockDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def script(*lines: str) -> str:
    """A multi-line shell script with a strict-mode header."""
    return "\n".join(("set -euo pipefail",) + lines) + "\n"


def run(image: str, body: str, **extra) -> dict:
    """A runScriptConfig step with optional env/cache/when/timeout keys."""
    return {"runScriptConfig": {"image": image, "shellScript": body}, **extra}


def build_steps(name: str, lang: dict) -> list[dict]:
    """Compile, generate and document; a stage-level cache covers all three."""
    return [
        run(lang["image"], script(f'echo "building {name} @ ${{CICD_GIT_COMMIT}}"', lang["build"],
                                  "ls -la", f"du -sh . > build-{name}.size"),
            env={**lang["env"], "SERVICE": name}),
        run(lang["image"], script("mkdir -p generated",
                                  f"printf '%s\\n' 'package {name}' > generated/version.txt",
                                  'echo "${CICD_EXECUTION_SEQUENCE}" >> generated/version.txt',
                                  "sha256sum generated/* | tee generated/SHA256SUMS"),
            env=dict(lang["env"])),
        run("python:3.12-slim", script("pip install --quiet mkdocs==1.6.1",
                                       f"mkdocs build --site-dir site/{name}",
                                       f"tar czf docs-{name}.tgz site/{name}"),
            timeout=10),
    ]


def test_steps(name: str, lang: dict) -> list[dict]:
    """Unit, integration (not on tags) and coverage checks with timeouts."""
    return [
        run(lang["image"], script(lang["test"], "test -d reports || mkdir reports",
                                  f"echo 'unit tests of {name} passed'"),
            env={**lang["env"], "PROFILE": "ci"}, timeout=20, cache={"paths": lang["cache"]}),
        run(lang["image"], script("export DB_URL='postgres://ci:ci@localhost:5432/ci'",
                                  "export INTEGRATION=1", lang["test"],
                                  'echo "integration done for $CICD_GIT_BRANCH"'),
            env={**lang["env"], "PROFILE": "integration"}, timeout=30,
            when={"event": ["push", "pull_request"]}),
        run("alpine:3.20", script("apk add --no-cache jq >/dev/null",
                                  "cov=$(jq -r '.total.lines.pct' reports/coverage.json || echo 0)",
                                  'echo "coverage ${cov}%"',
                                  "awk -v c=\"$cov\" 'BEGIN { exit !(c >= 70) }'"),
            timeout=5),
    ]


def lint_steps(name: str, lang: dict) -> list[dict]:
    """Source lint, Dockerfile lint and a vulnerability scan; shared containers."""
    return [
        run(lang["image"], script(lang["lint"], f"echo 'lint {name}: ok'"), env=dict(lang["env"])),
        run(DOCKERFILE_LINT, script("hadolint --failure-threshold warning Dockerfile",
                                    "grep -q '^USER ' Dockerfile")),
        run(SCANNER, script("trivy fs --exit-code 1 --severity HIGH,CRITICAL \\",
                            "  --cache-dir /root/.cache/trivy --no-progress ."),
            cache={"paths": ["/root/.cache/trivy"]}, timeout=15),
    ]


def package_steps(name: str, lang: dict) -> list[dict]:
    """Kaniko image build, SBOM, and release notes only on tag events."""
    return [
        {"publishImageConfig": {"dockerfilePath": "./Dockerfile", "buildContext": ".",
                                "tag": f"shop/{name}:${{CICD_EXECUTION_SEQUENCE}}",
                                "registry": "registry.example.com", "pushRemote": True,
                                "credentialSecret": "registry-push",
                                "buildArgs": {"SERVICE": name, "COMMIT": "${CICD_GIT_COMMIT}"}},
         "cache": {"enabled": True}, "timeout": 30},
        run(SCANNER, script(f"trivy image --format cyclonedx --output sbom-{name}.json \\",
                            f"  registry.example.com/shop/{name}:${{CICD_EXECUTION_SEQUENCE}}"),
            cache={"paths": ["/root/.cache/trivy"]}),
        run("alpine/git:2.45.2", script('last="$(git describe --tags --abbrev=0)"',
                                        f'git log --oneline "$last"..HEAD > notes-{name}.txt',
                                        "cat notes-*.txt"),
            when={"event": "tag"}),
    ]


def deploy_steps(name: str, lang: dict) -> list[dict]:
    """Apply a manifest file and an inline one, then a smoke test."""
    return [
        {"applyYamlConfig": {"path": f"deploy/{name}.yaml", "namespace": "staging"}},
        {"applyYamlConfig": {"content": MANIFEST.format(name=name)}, "when": {"event": "push"}},
        run(CURL, script("for i in 1 2 3 4 5; do",
                         f"  curl -fsS http://{name}.staging.svc:8080/healthz && exit 0",
                         "  sleep 5", "done", "exit 1"),
            timeout=5),
    ]


STEPS = {"Build": build_steps, "Test": test_steps, "Lint": lint_steps,
         "Package": package_steps, "Deploy": deploy_steps}


def stage(component: int, phase: str) -> dict:
    """One stage of the generated config, with stage-level cache or when where apt."""
    name, lang = COMPONENTS[component], LANGUAGES[component % len(LANGUAGES)]
    result: dict = {"name": f"{phase} {name}"}
    if phase == "Build":
        result["cache"] = {"enabled": True, "paths": lang["cache"]}
    if phase == "Deploy":
        result["when"] = {"branch": {"include": ["main", "release/*"], "exclude": ["wip/*"]}}
    result["steps"] = STEPS[phase](name, lang)
    return result


def generate() -> str:
    """YAML text of the 50-stage, 150-step benchmark config."""
    data = {"timeout": 180, "discarder": {"numToKeep": 50},
            "stages": [stage(c, phase) for c in range(len(COMPONENTS)) for phase in PHASES]}
    return yaml.dump(data, Dumper=BlockDumper, sort_keys=False, width=100)


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` calls, after one untimed warm-up call."""
    function()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p90(samples: list[float]) -> float:
    """90th percentile (inclusive method, within the observed range)."""
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


def renderer(text: str) -> Callable[[], render.Rendered]:
    """A no-argument full render of `text` with fixed context, settings and history."""
    templates = load_templates()
    context = config.RenderContext(git_url="https://git.example.com/a.git", branch="main",
                                   event="push", commit="abc")
    # 200 declarative stages pass the pipeline block's method budget (render/limits.py):
    # rendered as for a controller that splits declarative scripts.
    settings = config.ProjectSettings(script_splitting=True)
    history = tuple(config.HistoryEntry(execution_id=f"e{i}", node_name=f"node-{i % 7}",
                                        creation_timestamp="") for i in range(12))

    def full_render() -> render.Rendered:
        pipeline = config.parse_pipeline(text, "bench.yml")
        placement = cache.place(pipeline, context, settings, history)
        return render.render(pipeline, context, settings, placement, templates)

    return full_render


def report(text: str, path: Path, rendered: render.Rendered, render_ms: list[float],
           load_ms: list[float]) -> None:
    """Print the results table."""
    pipeline = config.parse_pipeline(text, "bench.yml")
    steps = sum(len(s.steps) for s in pipeline.stages)
    ratio = statistics.median(render_ms) / statistics.median(load_ms)
    rows = [
        ("config", f"{len(text.encode()):,} bytes, {len(pipeline.stages)} stages, {steps} steps"),
        ("repetitions", f"{len(render_ms)}"),
        ("full render median", f"{statistics.median(render_ms):.1f} ms"),
        ("full render p90", f"{p90(render_ms):.1f} ms"),
        ("yaml.safe_load median", f"{statistics.median(load_ms):.1f} ms"),
        ("ratio render / safe_load", f"{ratio:.2f}x"),
        ("Jenkinsfile", f"{len(rendered.jenkinsfile.encode()):,} bytes"),
        ("pod.yaml", f"{len(rendered.pod_yaml.encode()):,} bytes, "
                     f"{len(rendered.pod['spec']['containers'])} containers"),
        ("config.xml", f"{len(rendered.config_xml.encode()):,} bytes"),
        ("config written to", str(path)),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main() -> None:
    """Generate the config, time both measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed calls of each (>= 2)")
    parser.add_argument("--write", type=Path, metavar="PATH",
                        help="save the generated config here (default: a file in the temp dir)")
    args = parser.parse_args()
    if args.repeat < 2:
        parser.error("--repeat must be at least 2")
    text = generate()
    path = args.write or Path(tempfile.gettempdir()) / "jenkins-sidecar-bench.yml"
    path.write_text(text, encoding="utf-8")
    full_render = renderer(text)
    rendered = full_render()
    render_ms = timed(full_render, args.repeat)
    load_ms = timed(lambda: yaml.safe_load(text), args.repeat)
    report(text, path, rendered, render_ms, load_ms)


if __name__ == "__main__":
    main()
