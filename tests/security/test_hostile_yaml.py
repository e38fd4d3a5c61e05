"""Hostile YAML is refused before it is expanded: alias bombs, deep nesting, huge documents.

We test these attacks through POST /api/v1/validate, a pipeline PUT, a trigger with its
own config, and a GitHub pull-request webhook whose config is read at the head commit
(SQLite and PostgreSQL); each is refused with a position and the peak of memory the
Python allocator hands out while answering (tracemalloc) stays under 16 MiB:
- the billion-laughs alias bomb (a few hundred bytes that name 10^9 nodes);
- an alias inside the node it names (a recursive structure);
- 100 nested flow sequences, and 100 nested block mappings;
- a 1 MiB + 1 byte document;
- aliases that stay within the bounds (a shared anchor used twice) still load.
"""

from __future__ import annotations

import tracemalloc

import pytest
from fakes.scm import FakeScm
from webhook_helpers import CONFIG, create_pipeline, deliver, executions, headers_for, sample

from sidecar import outbound

LOL = '"lol"'
LAUGHS = "".join(
    f"{name}: &{name} [{','.join([f'*{previous}' if previous else LOL] * 9)}]\n"
    for previous, name in zip(["", *"abcdefgh"], "abcdefghi"))
BOMB = "stages:\n- name: Build\n  steps:\n  - runScriptConfig: {image: alpine, shellScript: x}\n" \
       "x-lols:\n" + "".join("  " + line + "\n" for line in LAUGHS.splitlines())
HOSTILE = {
    "alias bomb": (BOMB, "aliases expand the document beyond 100000 nodes"),
    "recursive alias": ("stages: &s [{name: a, steps: *s}]\n", "is inside the node it names"),
    "deep flow": ("stages: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than 64 levels"),
    "deep block": ("".join(" " * i + f"k{i}:\n" for i in range(100)) + " " * 100 + "v\n",
                   "nested deeper than 64 levels"),
    "huge": ("#" * (1024 * 1024 + 1), "larger than 1048576 bytes"),
}
PEAK = 16 * 1024 * 1024
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
TOKEN = "ghp-provider-token"


def test_the_bomb_is_small():
    assert len(BOMB.encode()) < 512 and LAUGHS.count("*") == 72


def _measured(send):
    tracemalloc.start()
    try:
        answer = send()
        return answer, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _problems(answer) -> list[str]:
    return [f"{e['position']}: {e['message']}" for e in answer.json["errors"]]


@pytest.mark.parametrize("name", HOSTILE)
def test_validate_refuses_hostile_yaml(client, name):
    text, why = HOSTILE[name]
    answer, peak = _measured(lambda: client.post("/api/v1/validate", json={"config": text}))
    assert answer.status_code == 200 and answer.json["valid"] is False
    [problem] = _problems(answer)
    assert problem.startswith("config:") and why in problem
    assert peak < PEAK, f"{peak} bytes"


@pytest.mark.parametrize("name", HOSTILE)
def test_pipeline_put_and_trigger_refuse_hostile_yaml(client, name):
    text, why = HOSTILE[name]
    pipeline = create_pipeline(client)
    answer, peak = _measured(lambda: client.put(f"/api/v1/pipelines/{pipeline}",
                                                json={"inlineConfig": text}))
    assert answer.status_code == 400 and why in _problems(answer)[0]
    assert _problems(answer)[0].startswith("inlineConfig:")
    assert peak < PEAK, f"{peak} bytes"
    answer, peak = _measured(lambda: client.post(f"/api/v1/pipelines/{pipeline}/executions",
                                                 json={"config": text}))
    assert answer.status_code == 400 and why in _problems(answer)[0]
    assert peak < PEAK and executions(client, pipeline) == []


@pytest.mark.parametrize("name", ["alias bomb", "deep flow", "recursive alias"])
def test_a_pull_request_with_hostile_yaml_starts_nothing(app, client, name):
    text, _ = HOSTILE[name]
    app.extensions["sidecar"].outbound = outbound.Client(outbound.Policy.parse("127.0.0.1/32"))
    with FakeScm(token=TOKEN) as scm:
        scm.files[("codertocat/hello-world", HEAD, "ci.yml")] = text
        pipeline = create_pipeline(client, repositoryUrl="https://github.com/Codertocat/Hello-World",
                                   providerToken=TOKEN, configPath="ci.yml",
                                   triggers={"apiUrl": scm.url})
        body = sample("github/pull_request-opened.json")
        answer, peak = _measured(lambda: deliver(client, "github", pipeline, body,
                                                 headers_for("github", body, "pull_request")))
    assert answer.status_code == 400
    assert [e["position"].split(":")[0] for e in answer.json["errors"]] == ["ci.yml"]
    assert peak < PEAK, f"{peak} bytes"
    assert executions(client, pipeline) == []


def test_bounded_aliases_still_load(client):
    shared = CONFIG.replace("image: alpine", "image: &img alpine") + \
        "- name: Test\n  steps:\n  - runScriptConfig: {image: *img, shellScript: 'true'}\n"
    answer = client.post("/api/v1/validate", json={"config": shared})
    assert answer.json == {"valid": True, "errors": []}
