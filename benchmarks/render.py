"""Render time of a large pipeline, next to the time it takes just to parse its YAML.

A deterministic 50-stage, 150-step config (three parallel steps per stage; scripts,
image builds, kubectl applies; caches, env, `when`, timeouts) is rendered end to end:
validation and model building, cache placement with a 12-entry history, and the
Jenkinsfile, pod YAML and config.xml. Templates are loaded once, before timing, as the
service does. The baseline is `yaml.safe_load` of the same text.

Run by hand: ``make bench`` (or ``.venv/bin/python benchmarks/render.py --repeat 50``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import yaml

from sidecar import cache, config, render
from sidecar.config.templates import load_templates

IMAGES = ["maven:3.9.9-eclipse-temurin-21", "node:20.18-bookworm", "golang:1.23.4",
          "python:3.12-slim"]


def step(stage: int, index: int) -> dict:
    """One step of the generated config; the mix repeats every few stages."""
    kind = (stage + index) % 10
    if kind == 7:
        return {"publishImageConfig": {"tag": f"team/svc-{stage}:${{CICD_EXECUTION_SEQUENCE}}",
                                       "registry": "registry.example.com"},
                "cache": {"enabled": True}}
    if kind == 8:
        return {"applyYamlConfig": {"path": f"deploy/svc-{stage}.yaml", "namespace": "staging"}}
    script = "\n".join(f"echo 'stage {stage} step {index} line {n}' && make target-{n}"
                       for n in range(6))
    result = {"runScriptConfig": {"image": IMAGES[(stage + index) % len(IMAGES)],
                                  "shellScript": script},
              "env": {"PROFILE": "ci" if stage % 2 else "release"}}
    if index == 0:
        result["cache"] = {"paths": [f"/cache/{stage % 3}", "/root/.m2/repository"]}
    if index == 2:
        result["when"] = {"branch": {"include": ["main", "release/*"]}}
        result["timeout"] = 15
    return result


def generate(stages: int = 50, steps: int = 3) -> str:
    """YAML text of the benchmark config."""
    data = {"timeout": 120, "stages": [
        {"name": f"Stage {s:02d}", "steps": [step(s, i) for i in range(steps)]}
        for s in range(stages)]}
    return yaml.safe_dump(data, sort_keys=False)


def timed(function, repeat: int) -> list[float]:
    """Wall-clock milliseconds of each of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--write", help="also save the generated config here")
    args = parser.parse_args()

    text = generate()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    templates = load_templates()
    context = config.RenderContext(git_url="https://git.example.com/a.git", branch="main",
                                   event="push", commit="0" * 40)
    settings = config.ProjectSettings()
    history = tuple(config.HistoryEntry(f"e-{i}", f"node-{i % 7}", "") for i in range(12))

    def full_render():
        pipeline = config.parse_pipeline(text, "bench.yml")
        placement = cache.place(pipeline, context, settings, history)
        return render.render(pipeline, context, settings, placement, templates)

    rendered = full_render()
    render_ms = timed(full_render, args.repeat)
    load_ms = timed(lambda: yaml.safe_load(text), args.repeat)
    pipeline = config.parse_pipeline(text, "bench.yml")
    steps = sum(len(stage.steps) for stage in pipeline.stages)
    print(f"config: {len(text):,} bytes, {len(pipeline.stages)} stages, {steps} steps; "
          f"{args.repeat} repetitions")
    print(f"render (validate + place + render)  median {statistics.median(render_ms):8.1f} ms"
          f"   p90 {statistics.quantiles(render_ms, n=10)[-1]:8.1f} ms")
    print(f"yaml.safe_load of the same file      median {statistics.median(load_ms):8.1f} ms")
    print(f"ratio render / safe_load             {statistics.median(render_ms) / statistics.median(load_ms):8.1f}x")
    print(f"output: Jenkinsfile {len(rendered.jenkinsfile):,} bytes, "
          f"pod.yaml {len(rendered.pod_yaml):,} bytes "
          f"({len(rendered.pod['spec']['containers'])} containers), "
          f"config.xml {len(rendered.config_xml):,} bytes")


if __name__ == "__main__":
    main()
