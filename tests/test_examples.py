"""Every shipped example renders, runs under Groovy 2.4 and yields a valid pod.

We test these aspects, for each examples/*.yml with examples/context.yml:
- it validates and renders;
- its Jenkinsfile compiles and runs against the recording DSL, with one stage per
  config stage and one parallel branch per step;
- its pod passes `kubernetes-validate --strict`.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from groovy_recorder import find
from sidecar import cache, config, render

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONFIGS = sorted(p for p in EXAMPLES.glob("*.yml") if p.name != "context.yml")


def test_there_are_at_least_six_examples():
    assert len(CONFIGS) >= 6


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_example_renders_and_runs(path, templates, groovy):
    context = config.load_context(EXAMPLES / "context.yml")
    pipeline = render.prepare(config.load_pipeline(path), context)
    settings = config.ProjectSettings()
    placement = cache.place(pipeline, context, settings)
    rendered = render.render(pipeline, context, settings, placement, templates)
    kubernetes_validate.validate(rendered.pod, "1.34.0", strict=True)

    stages = [call["args"][0] for call in find(groovy.record(rendered.jenkinsfile), "stage")]
    for s, stage in enumerate(pipeline.stages):
        assert stage.name in stages
        assert [f"step-{s}-{i}" for i in range(len(stage.steps))] == [
            name for name in stages if name.startswith(f"step-{s}-")]
