"""Golden cases: exact outputs, Groovy 2.4 execution, Kubernetes schema validity.

We test these aspects, for every case under tests/golden/cases:
- the rendered Jenkinsfile, pod.yaml and config.xml equal the golden files, and a bad
  config fails with exactly the lines of its ``.error`` file;
- the golden Jenkinsfile compiles and runs under Groovy 2.4 against a recording DSL,
  and the recorded calls match the config: stages in order, one parallel branch per
  step, the right container and script per step, skipped steps skipped, approvals,
  clone, timeouts, node reports (one per agent scope when the context has a callback
  URL), step reports (start in the step, end in its ``post { always }``, for every step
  that runs in an agent, only with a callback URL; labelled, and run by ``#!/bin/sh``
  so no ``sh -x`` trace prints the token), and the embedded pod YAML equal to the
  golden pod.yaml;
- steps withheld from an untrusted run are skipped, and what Groovy records of them is
  the echoed reason, never a container;
- the pod passes `kubernetes-validate --strict` for one pinned Kubernetes version;
- config.xml is well-formed XML whose script is the Jenkinsfile.

Set REGENERATE_GOLDENS=1 to rewrite the expected files after a deliberate
change, then review the diff.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import kubernetes_validate
import pytest
import yaml

from groovy_recorder import find
from rendering import inputs, load_scenario, render_scenario
from sidecar.config.trust import is_trusted, withheld
from sidecar.config.when import when_matches
from sidecar.errors import ConfigError
from sidecar.render import REPORT_LABEL, prepare

KUBERNETES_VERSION = "1.34.0"
REGENERATE = os.environ.get("REGENERATE_GOLDENS") == "1"
OUTPUTS = {".Jenkinsfile": "jenkinsfile", ".pod.yaml": "pod_yaml", ".config.xml": "config_xml"}


def _check_text(path, actual: str) -> None:
    if REGENERATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path.name}"
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs"


def test_output_matches_golden(scenario, templates):
    if scenario.expects_error:
        with pytest.raises(ConfigError) as excinfo:
            render_scenario(scenario, templates)
        _check_text(scenario.sibling(".error"), "\n".join(excinfo.value.lines) + "\n")
        return
    rendered = render_scenario(scenario, templates)
    for suffix, attribute in OUTPUTS.items():
        _check_text(scenario.sibling(suffix), getattr(rendered, attribute))


def test_pod_is_valid_kubernetes(rendering_scenario):
    pod = yaml.safe_load(rendering_scenario.sibling(".pod.yaml").read_text(encoding="utf-8"))
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_config_xml_holds_the_jenkinsfile(rendering_scenario):
    root = ET.parse(rendering_scenario.sibling(".config.xml")).getroot()
    script = root.find("./definition/script").text
    assert script == rendering_scenario.sibling(".Jenkinsfile").read_text(encoding="utf-8")
    assert root.find("./definition/sandbox").text == "true"


def test_jenkinsfile_runs_in_groovy(rendering_scenario, groovy):
    jenkinsfile = rendering_scenario.sibling(".Jenkinsfile").read_text(encoding="utf-8")
    pod_text = rendering_scenario.sibling(".pod.yaml").read_text(encoding="utf-8")
    calls = groovy.record(jenkinsfile)
    context, settings, _ = inputs(rendering_scenario)
    pipeline = prepare(load_scenario(rendering_scenario), context)
    trusted = is_trusted(context, settings, pipeline)
    pod = yaml.safe_load(pod_text)
    containers = {c["name"]: c for c in pod["spec"]["containers"]}

    assert [c["name"] for c in calls] == ["pipeline"]
    assert {call["args"][0] for call in find(calls, "yaml")} == {pod_text}
    stages = {call["args"][0]: call for call in find(calls, "stage")}
    reports = [find(stages[n]["children"], "sh")[0]["args"][0]["script"] for n in stages
               if n.startswith("node-")]
    agent_scopes = [n for n in stages if n.startswith("agent-")] or ["the pipeline"]
    assert len(reports) == (len(agent_scopes) if context.callback_url else 0)
    assert all("$SIDECAR_CALLBACK_URL" in script for script in reports)
    assert all(script.startswith("#!/bin/sh\n") for script in reports)
    config_names = [stage.name for stage in pipeline.stages]
    recorded = [name for name in stages if name in config_names]
    assert recorded == config_names, "stages out of order or missing"
    pipeline_timeout = find(next(iter(find(calls, "options"))).get("children", []), "timeout")
    assert pipeline_timeout[0]["args"][0]["time"] >= pipeline.timeout

    for s, stage in enumerate(pipeline.stages):
        branches = [c["args"][0] for c in _children(stages[stage.name], "parallel", "stage")]
        assert branches == [f"step-{s}-{i}" for i in range(len(stage.steps))]
        for i, step in enumerate(stage.steps):
            call = stages[f"step-{s}-{i}"]
            held = None if trusted else withheld(step)
            runs = (when_matches(stage.when, branch=context.branch, event=context.event)
                    and when_matches(step.when, branch=context.branch, event=context.event)
                    and not held)
            _check_step(call, step, runs, context, containers, held)
            reporting = bool(context.callback_url) and runs and step.kind != "approvalConfig"
            _check_step_reports(call, (s, i) if reporting else None)


def _children(call: dict, *names: str) -> list[dict]:
    found = [call]
    for name in names:
        found = [c for parent in found for c in parent["children"] if c["name"] == name]
    return found


def _check_step_reports(call: dict, key: tuple[int, int] | None) -> None:
    """The step's start and end reports, or none when key is None."""
    labelled = [c["args"][0] for c in find(call["children"], "sh")
                if c["args"][0].get("label") == REPORT_LABEL]
    if key is None:
        assert labelled == []
        return
    (steps,) = _children(call, "steps")
    start = steps["children"][0]["args"][0]  # the first thing the step does
    (end,) = [c["args"][0] for c in _children(call, "post", "always", "sh")]
    assert labelled == [start, end]
    for script, event in ((start["script"], "start"), (end["script"], "end")):
        assert script.startswith("#!/bin/sh\n")
        assert f'"${{SIDECAR_CALLBACK_URL%/node}}/steps/{key[0]}/{key[1]}/{event}"' in script


def _check_step(call: dict, step, runs: bool, context, containers: dict,
                held: str | None) -> None:
    skipped = [e.get("value") for e in find(call["children"], "expression")]
    assert skipped == ([] if runs else [False]), "when decided wrongly"
    timeouts = [t["args"][0]["time"] for t in _children(call, "options", "timeout")]
    assert timeouts == ([step.timeout] if step.timeout else [])
    if held:
        assert "not run for untrusted events" in held
        assert [e["args"] for e in find(call["children"], "echo")] == [[held], [held]]
        assert find(call["children"], "container") == []
        return
    if step.kind == "approvalConfig":
        (input_call,) = find(call["children"], "input")
        assert input_call["args"][0]["message"] == step.options["message"]
        assert input_call["args"][0]["submitter"] == \
            (context.jenkins_user or ",".join(step.options["submitters"]))
        return
    if step.kind == "sourceCodeConfig":
        (checkout,) = find(call["children"], "checkout")
        assert checkout["args"][0]["userRemoteConfigs"][0]["url"] == context.git_url
        return
    (container,) = find(call["children"], "container")
    name = container["args"][0]
    name = name["name"] if isinstance(name, dict) else name
    (sh,) = find(container["children"], "sh")
    if step.kind == "runScriptConfig":
        assert sh["args"][0]["script"] == step.options["shellScript"]
    if runs:
        assert name in containers, f"step runs in container {name} that the pod lacks"
        if step.kind == "runScriptConfig":
            assert containers[name]["image"] == step.options["image"]
