"""Arbitrary user text reaches Jenkins literally: Groovy 2.4 records it byte for byte.

We test these aspects:
- any Unicode text (quotes, backslashes, ``${…}``, ``'''``, ``\"\"\"``, ``$/``, line breaks,
  control characters, astral characters) put into a shell script, a stage name, an env
  value, an image, a branch and an approval message comes out of the compiled and
  executed Jenkinsfile exactly as given;
- the pod YAML emitter gives back any text (it once turned NEL into a space);
- the quoting function alone, for the sequences that Groovy's unicode-escape pass or
  its string lexer would otherwise change, and U+FFFF, which Groovy 2.4's lexer takes
  for the end of input when written as an escape.
"""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groovy_recorder import find
from sidecar import cache, config, render
from sidecar.config.inputs import RenderContext
from sidecar.render.groovy import groovy_string
from sidecar.render.pod import pod_yaml

TRICKY = ["'", '"', "\\", "${x}", "${CICD_EVENT}", "'''", '"""', "$/", "/$", "\n", "\r\n",
          "\\u0027", "\\n", "$(HOME)", "$$", "\t", "\x00", "\u2028", "é", "😀", "*/", "//",
          "\uffff"]

_pieces = st.one_of(st.sampled_from(TRICKY),
                    st.text(st.characters(exclude_categories=("Cs",)), max_size=12))
user_text = st.lists(_pieces, max_size=6).map("".join)
non_empty = user_text.filter(bool)
stage_name = non_empty.filter(
    lambda s: s != "Approve" and not re.match(r"^(step-\d+-\d+|agent-\d+|Clone-\d+)$", s))
branch = user_text.filter(lambda s: not s.startswith("-"))


def _expand_kubernetes(value: str, env: dict[str, str]) -> str:
    """Kubernetes' env expansion: $$ is $, $(NAME) is a defined variable, else kept."""
    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "$$":
            return "$"
        return env.get(match.group(1), token)
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, value)


def _config_text(script: str, name: str, value: str, image: str, message: str) -> str:
    data = {"stages": [
        {"name": name, "steps": [{"runScriptConfig": {"image": image, "shellScript": script},
                                  "env": {"USER_VALUE": value}}]},
        {"name": "Approve",
         "steps": [{"approvalConfig": {"message": message, "submitters": ["alice"]}}]},
    ]}
    # Escaped output: a raw NEL or LS would be read back as a line break by any YAML parser.
    return yaml.safe_dump(data, allow_unicode=False)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=user_text, name=stage_name, value=user_text, image=non_empty, branch=branch,
       message=non_empty)
def test_user_strings_survive_groovy(groovy, templates, script, name, value, image, branch,
                                     message):
    pipeline = config.parse_pipeline(_config_text(script, name, value, image, message))
    context = RenderContext(branch=branch, git_url="https://git.example.com/a.git")
    placement = cache.place(pipeline, context, config.ProjectSettings())
    rendered = render.render(pipeline, context, config.ProjectSettings(), placement, templates)
    assert rendered.jenkinsfile.isascii()

    calls = groovy.record(rendered.jenkinsfile)
    assert name in [call["args"][0] for call in find(calls, "stage")]
    assert [sh["args"][0]["script"] for sh in find(calls, "sh")] == [script]
    assert [i["args"][0]["message"] for i in find(calls, "input")] == [message]
    refspecs = {c["args"][0]["userRemoteConfigs"][0]["refspec"] for c in find(calls, "checkout")}
    assert refspecs == {f"+refs/heads/{branch}:refs/remotes/origin/sidecar-build"}

    pods = {call["args"][0] for call in find(calls, "yaml")}
    assert pods == {rendered.pod_yaml}
    container = yaml.safe_load(rendered.pod_yaml)["spec"]["containers"][1]
    assert container["image"] == image
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["USER_VALUE"] == value
    assert _expand_kubernetes(env["CICD_GIT_BRANCH"], {}) == branch


@pytest.mark.parametrize("text", [
    "", "plain", "it's", "back\\slash", "\\u0027", "\\\\u0027", "${x}", "'''", "a\nb",
    "ends with backslash\\", "ends with quote'", "\r", "\x00\x01\x7f", "\u0085\u2028\u2029",
    "😀 astral", "$/ dollar slashy /$", "\\\n",
    "x" * 70000, ("é'\n\\😀" * 30000), "a" * 9999 + "😀" + "b" * 30000,
    "\uffff", "a\uffffb", "\uffff\uffff'\n", "x" * 10000 + "\uffff", "\ufffe\uffff\U0010ffff",
], ids=lambda text: repr(text[:20]) + f"..{len(text)}" if len(text) > 40 else repr(text))
def test_groovy_string_round_trips(groovy, text):
    calls = groovy.record(f"sh(script: {groovy_string(text)})")
    assert calls[0]["args"][0]["script"] == text


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(st.characters(exclude_categories=("Cs",))))
def test_pod_yaml_emitter_round_trips_any_text(text):
    assert yaml.safe_load(pod_yaml({"value": text}))["value"] == text
