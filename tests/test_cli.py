"""The `jenkins-sidecar` command as users and scripts call it.

We test these aspects:
- render writes Jenkinsfile, pod.yaml and config.xml with --out, and prints the
  Jenkinsfile without it; defaults apply when context, settings and history are absent;
- invalid input exits 2 with one FILE:LINE:COL line per error and no traceback:
  bad configs, bad context/settings/history files, missing files, missing templates;
- validate and schema; the schema accepts every example and rejects a bad config.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yml"))
EXAMPLE_CONFIGS = [p for p in EXAMPLES if p.name != "context.yml"]
GOOD = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: make}\n"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the CLI as a separate process, exactly as a user would."""
    return subprocess.run([sys.executable, "-m", "sidecar.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_render_writes_three_files(tmp_path):
    config = write(tmp_path, "p.yml", GOOD)
    result = run("render", config, "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["Jenkinsfile", "config.xml", "pod.yaml"]
    pod = yaml.safe_load((tmp_path / "out" / "pod.yaml").read_text())
    assert [c["name"] for c in pod["spec"]["containers"]] == ["jnlp", "step-0-0"]


def test_render_prints_the_jenkinsfile(tmp_path):
    result = run("render", write(tmp_path, "p.yml", GOOD))
    assert result.returncode == 0
    assert result.stdout.startswith("// Rendered by jenkins-sidecar")
    assert "sh(script: 'make')" in result.stdout


def test_invalid_config_reports_every_error_with_position(tmp_path):
    config = write(tmp_path, "bad.yml", "stages:\n- name: A\n  stpes: []\n- nme: B\n  steps: []\n")
    result = run("validate", config)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines == [
        f"{config}:2:3: stages[0]: missing required key 'steps'",
        f"{config}:3:3: stages[0].stpes: unknown key 'stpes'; did you mean 'steps'?",
        f"{config}:4:3: stages[1]: missing required key 'name'",
        f"{config}:4:3: stages[1].nme: unknown key 'nme'; did you mean 'name'?",
        f"{config}:5:10: stages[1].steps: expected at least 1 item(s)",
    ]


@pytest.mark.parametrize("option, text, expected", [
    ("--context", "event: merge\n", ":1:8: event: expected one of push, pull_request"),
    ("--context", "branch: --upload-pack=x\n", ":1:9: branch: expected a git name"),
    ("--settings", "executorCpuLimit: lots\n", ":1:19: executorCpuLimit: expected a Kubernetes"),
    ("--settings", "cacheDir: relative\n", ":1:11: cacheDir: 'relative' does not match"),
    ("--history", "- {executionId: a, node: x}\n", ":1:20: [0].node: unknown key 'node'"),
    ("--history", "executionId: a\n", ":1:1: expected a list, got a mapping"),
])
def test_bad_inputs_are_clear_errors(tmp_path, option, text, expected):
    result = run("render", write(tmp_path, "p.yml", GOOD), option, write(tmp_path, "in.yml", text))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert expected in result.stderr


def test_missing_files_and_templates_are_clear_errors(tmp_path):
    missing = run("render", str(tmp_path / "nope.yml"))
    assert missing.returncode == 2 and "file not found" in missing.stderr
    templates = run("render", write(tmp_path, "p.yml", GOOD),
                    "--podtemplates", str(tmp_path / "none"))
    assert templates.returncode == 2 and "podtemplates directory not found" in templates.stderr
    assert "Traceback" not in missing.stderr + templates.stderr


def test_validate_accepts_a_good_config(tmp_path):
    result = run("validate", write(tmp_path, "p.yml", GOOD))
    assert result.returncode == 0
    assert "valid (1 stages, 1 steps)" in result.stdout


def test_schema_accepts_every_example_and_rejects_bad_configs():
    schema = json.loads(run("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert EXAMPLE_CONFIGS, "examples/ holds no configs"
    for example in EXAMPLE_CONFIGS:
        assert list(validator.iter_errors(yaml.safe_load(example.read_text()))) == []
    assert list(validator.iter_errors({"stages": [{"name": "x", "stepz": []}]}))
