"""Rendered Jenkinsfiles stay inside the JVM limits Jenkins compiles them under.

We test these aspects:
- every golden Jenkinsfile, compiled by groovyc (Groovy 2.4), has no string constant over
  65535 bytes and no method over 65535 bytes of code, read from the class files;
- the estimate the renderer checks (syntax nodes at BYTES_PER_NODE) is at least 3.5
  times what plain Groovy compiles the pipeline block to, byte for byte, in every golden
  (Jenkins' CPS and declarative code is larger than plain Groovy's; the factor is the
  assumption README states, not a measurement of Jenkins);
- a long script costs the pipeline block one call: it lives in a helper method, and a
  text longer than one helper takes is split across sub-helpers and still arrives whole,
  also with U+FFFF (an expression, not a literal) first in a sub-helper;
- the issue's 2,000-stage config is refused, naming the limit and the first stage past it;
  with the project's scriptSplitting (Jenkins splits declarative scripts) it renders,
  and the budget applies to each stage;
- `validate` (CLI and API) refuses what cannot fit in a run as the service renders it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import classfile
from scenarios import CASES, scenario_list
from sidecar import cache, config, render
from sidecar.config import bounds
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.errors import ConfigError
from sidecar.render import limits
from sidecar.render.groovy import CHUNK

JVM_LIMIT = 65535
# The renderer's estimate per syntax node over what plain Groovy 2.4 compiles a node to
# (12-17 bytes in the goldens): the room assumed for CPS and declarative's model code.
PLAIN_FACTOR = 3.5
RENDERED = [s for s in scenario_list() if not s.expects_error]


def _render(templates, text: str, **settings_values) -> render.Rendered:
    pipeline = config.parse_pipeline(text)
    context, settings = RenderContext(), ProjectSettings(**settings_values)
    return render.render(pipeline, context, settings, cache.place(pipeline, context, settings),
                         templates)


def _stages(count: int) -> str:
    return "stages:\n" + "".join(
        f"- name: Stage {i}\n  steps:\n  - runScriptConfig: {{image: a, shellScript: echo {i}}}\n"
        for i in range(1, count + 1))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, list[classfile.ClassSizes]]:
    """Every golden Jenkinsfile compiled by one groovyc run, its classes by case."""
    groovyc = shutil.which("groovyc")
    if groovyc is None:
        pytest.skip("groovyc is not installed; run `make system-deps`")
    root = tmp_path_factory.mktemp("groovyc")
    sources = []
    for number, scenario in enumerate(RENDERED):
        source = root / f"Case{number}.groovy"
        shutil.copyfile(scenario.sibling(".Jenkinsfile"), source)
        sources.append(str(source))
    subprocess.run([groovyc, "-d", str(root / "out"), *sources], check=True,
                   capture_output=True, timeout=600)
    classes: dict[str, list[classfile.ClassSizes]] = {}
    for path in sorted((root / "out").glob("*.class")):
        number = int(path.name.split("$")[0].removesuffix(".class")[4:])
        classes.setdefault(RENDERED[number].name, []).append(classfile.read(path))
    return classes


def test_goldens_compile_inside_jvm_limits(compiled):
    for name, classes in compiled.items():
        assert max(max(c.utf8_lengths) for c in classes) <= JVM_LIMIT, name
        assert max(max(c.method_code.values(), default=0) for c in classes) <= JVM_LIMIT, name


def test_estimate_is_well_above_plain_groovy(compiled):
    for scenario in RENDERED:
        jenkinsfile = scenario.sibling(".Jenkinsfile").read_text(encoding="utf-8")
        (block,) = [m for m in limits.methods(jenkinsfile) if m.name == "pipeline"]
        estimate = limits.nodes(jenkinsfile[block.start:block.end]) * limits.BYTES_PER_NODE
        plain = sum(code for c in compiled[scenario.name] for method, code in
                    c.method_code.items() if method in ("run", "doCall"))
        assert estimate >= PLAIN_FACTOR * plain, scenario.name


def test_long_script_costs_the_pipeline_block_one_call(templates):
    def block_nodes(script: str) -> int:
        jenkinsfile = _render(templates, "stages:\n- name: Build\n  steps:\n"
                              f"  - runScriptConfig: {{image: a, shellScript: '{script}'}}\n"
                              ).jenkinsfile
        (block,) = [m for m in limits.methods(jenkinsfile) if m.name == "pipeline"]
        return limits.nodes(jenkinsfile[block.start:block.end])
    # 1 MiB less the rest of the document: the longest script a config may hold
    assert block_nodes("x" * (1024 * 1024 - 200)) == block_nodes("x" * (limits.TEXT_INLINE + 1))


def test_text_longer_than_one_helper_is_split_and_arrives_whole(templates, groovy,
                                                                monkeypatch):
    # Longer than a config document may be (1 MiB): the renderer must stay right for
    # text the loader refuses, so the loader's bound is lifted for this test.
    monkeypatch.setattr(bounds, "MAX_BYTES", 16 * 1024 * 1024)
    # U+FFFF right at the cut: the second helper starts with its expression, not a literal.
    script = "é" * (CHUNK * limits.PARTS_PER_METHOD) + "\uffff" + "x"
    quoted = script.replace("\uffff", "\\uffff")  # YAML takes U+FFFF only escaped
    rendered = _render(templates, "stages:\n- name: Build\n  steps:\n"
                       f'  - runScriptConfig: {{image: a, shellScript: "{quoted}"}}\n')
    helpers = [m.name for m in limits.methods(rendered.jenkinsfile) if m.name != "pipeline"]
    assert helpers == ["text1_1", "text1_2", "text1"]
    for method in limits.methods(rendered.jenkinsfile):
        body = rendered.jenkinsfile[method.start:method.end]
        assert limits.nodes(body) <= limits.NODE_BUDGET
    (sh,) = [c for c in _walk(groovy.record(rendered.jenkinsfile)) if c["name"] == "sh"]
    assert sh["args"][0]["script"] == script


def test_two_thousand_stages_are_refused(templates):
    with pytest.raises(ConfigError) as excinfo:
        _render(templates, _stages(2000))
    (line,) = excinfo.value.lines
    assert line.startswith("stages[91]: stage 'Stage 92' does not fit: Jenkins compiles the "
                           "whole pipeline block into one method of at most 65535 bytes")
    assert "JENKINS-37984" in line and "92 of 2000" in line


def test_script_splitting_limits_each_stage_instead(templates):
    _render(templates, _stages(2000), script_splitting=True)
    wide = "stages:\n- name: Small\n  steps:\n  - runScriptConfig: {image: a, shellScript: x}\n" \
        "- name: Wide\n  steps:\n" + "".join(
            f"  - runScriptConfig: {{image: a, shellScript: echo {i}}}\n" for i in range(200))
    with pytest.raises(ConfigError) as excinfo:
        _render(templates, wide, script_splitting=True)
    (line,) = excinfo.value.lines
    assert line.startswith("stages[1]: stage 'Wide' does not fit: Jenkins compiles this stage "
                           "into one method of at most 65535 bytes")


def test_validate_refuses_what_cannot_fit(client):
    """The CLI and the API validate a config as the service would render it (clone, reports)."""
    case = CASES / "error_limits_one_stage_too_many.yml"
    result = subprocess.run([sys.executable, "-m", "sidecar.cli", "validate", str(case)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("stages[42]: stage 'Stage 43' does not fit")
    answer = client.post("/api/v1/validate", json={"config": case.read_text()}).json
    assert answer["valid"] is False
    assert "does not fit" in answer["errors"][0]["message"]
    largest = (CASES / "limits_largest_accepted.yml").read_text()
    assert client.post("/api/v1/validate", json={"config": largest}).json["valid"] is True


def _walk(calls):
    for call in calls:
        yield call
        yield from _walk(call["children"])


def test_limits_cite_their_sources():
    text = Path(limits.__file__).read_text(encoding="utf-8")
    for source in ("JENKINS-37984", "§4.7.3", "§4.4.7", "RuntimeASTTransformer"):
        assert source in text
