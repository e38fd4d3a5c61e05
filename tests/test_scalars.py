"""Strict scalars: YAML 1.1's booleans, numbers and dates never stand in for text.

We test these aspects:
- the issue's three cases (`env: {NO: x}`, `VERSION: 1.10`, `MODE: 0755`) are errors at
  their position, each saying how YAML read it and how to quote it, and the quoted
  forms reach the pod exactly as written;
- every YAML 1.1 spelling of a boolean, number, date or null, unquoted where text is
  wanted (an env value, an image, a branch glob, a cache path, a mapping key), is an error
  that names that spelling; quoted, it is the text itself;
- where a number or boolean is wanted, a quoted one is an error that says to unquote it;
- the published JSON Schema says the same: env values are strings, so a number fails it;
- settings files follow the same rule for their keys.
"""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from sidecar import cache, config, render
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.loader import load_text
from sidecar.config.schema import pipeline_schema
from sidecar.errors import ConfigError

YAML11 = ["NO", "no", "Off", "yes", "ON", "true", "False", "1.10", "0755", "0x1F",
          "1_000", "1.0e+3", ".inf", "-1.5", "2024-01-31", "2001-12-14t21:59:43.10-05:00", "~",
          "null", "12:30:00"]


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        config.parse_pipeline(text, "c.yml")
    return excinfo.value.lines


def _step(extra: str, image: str = "alpine") -> str:
    return ("stages:\n- name: Build\n  steps:\n"
            f"  - runScriptConfig: {{image: {image}, shellScript: make}}\n{extra}")


@pytest.mark.parametrize("env, line", [
    ("    env: {NO: x}\n", "c.yml:5:11: stages[0].steps[0].env.NO: the key NO is read by YAML "
     "1.1 as false, not as text; write 'NO' in quotes"),
    ("    env: {VERSION: 1.10}\n", "c.yml:5:20: stages[0].steps[0].env.VERSION: expected a "
     "string, got 1.10, which YAML 1.1 reads as the number 1.1; write '1.10' in quotes"),
    ("    env: {MODE: 0755}\n", "c.yml:5:17: stages[0].steps[0].env.MODE: expected a string, "
     "got 0755, which YAML 1.1 reads as the number 493; write '0755' in quotes"),
])
def test_issue_cases_are_errors_with_the_fix(env, line):
    assert _errors(_step(env)) == [line]


def test_quoted_forms_reach_the_pod_as_written(templates):
    pipeline = config.parse_pipeline(_step("    env: {'NO': x, VERSION: '1.10', MODE: '0755'}\n"))
    context, settings = RenderContext(), ProjectSettings()
    pod = render.render(pipeline, context, settings, cache.place(pipeline, context, settings),
                        templates).pod
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][1]["env"]}
    assert (env["NO"], env["VERSION"], env["MODE"]) == ("x", "1.10", "0755")


@pytest.mark.parametrize("spelling", YAML11)
@pytest.mark.parametrize("where", ["env value", "image", "branch", "cache path", "env key"])
def test_every_yaml11_spelling_is_refused_where_text_is_wanted(spelling, where):
    text = {
        "env value": _step(f"    env: {{A: {spelling}}}\n"),
        "image": _step("", image=spelling),
        "branch": _step(f"    when: {{branch: [main, {spelling}]}}\n"),
        "cache path": _step(f"    cache: {{paths: [{spelling}]}}\n"),
        "env key": _step(f"    env: {{{spelling}: x}}\n"),
    }[where]
    (line,) = _errors(text)
    assert f"write '{spelling}' in quotes" in line
    quoted = text.replace(spelling, f"'{spelling}'")
    try:
        config.parse_pipeline(quoted)
    except ConfigError as exc:  # e.g. not an absolute path, not a variable name: other rules
        assert not any("YAML 1.1" in line for line in exc.lines)


@pytest.mark.parametrize("field, value, hint", [
    ("timeout", '"30"', "expected an integer, got '30'; write 30 without quotes"),
    ("privileged", "'yes'", "expected true or false, got 'yes'; write yes without quotes"),
    ("runAsUser", "'1000'", "expected an integer, got '1000'; write 1000 without quotes"),
])
def test_numbers_and_booleans_only_as_such(field, value, hint):
    (line,) = _errors(_step(f"    {field}: {value}\n"))
    assert line.endswith(hint)


def test_schema_says_env_values_are_strings():
    schema = pipeline_schema()
    data = yaml.safe_load(_step("    env: {VERSION: 1.10}\n"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
    jsonschema.validate(yaml.safe_load(_step("    env: {VERSION: '1.10'}\n")), schema)


def test_settings_keys_follow_the_rule():
    with pytest.raises(ConfigError) as excinfo:
        config.inputs.from_located(ProjectSettings, load_text("catalogs: {yes: x}\n", "s.yml"))
    assert excinfo.value.lines[0] == ("s.yml:1:12: catalogs.yes: the key yes is read by YAML "
                                      "1.1 as true, not as text; write 'yes' in quotes")
