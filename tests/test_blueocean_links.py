"""Every link the Blue Ocean API emits answers, with Blue Ocean's shape; every class it
names has the hierarchy Jenkins reports.

We test these aspects, on SQLite and PostgreSQL, with real executions driven through the
engine and the fake Jenkins (one run in every state; the finished one started by a
GitHub push delivery, so its change set has a commit):
- from each run of a finished, a running, a paused and a failed run, every ``_links``
  href found anywhere in every response (nested documents too: actions, inputs, change
  set entries and their authors, edges …) is followed, recursively within the run, and
  each answers 200: JSON documents with the shape of their ``_class``, logs as text;
  links leaving the run (its pipeline, the runs before and after) answer 200 too;
- the same walk from the pipelines list covers every pipeline-level link (queue, trends
  and their rows, actions) and every run;
- the classes look-up answers, for every ``_class`` found in those responses (walked
  like blueocean-core-js walks them), the classes Blue Ocean computes from the Java
  declarations, every declared superclass chain is complete, and the lists Blue Ocean's
  own tests and recordings show hold (the step log action is a LogAction);
- a disabled pipeline starts no run, from Blue Ocean or a webhook, until it is enabled.
"""

from __future__ import annotations

from collections import deque

import blueocean_runs as runs
import pytest
from blueocean_runs import app, engine, fake, scenarios, store  # noqa: F401  (fixtures)
from blueocean_shapes import (ACTION, CHANGESET, CLASSES, EXTENSION_CLASS, INPUT, NODE, PIPELINE,
                              QUEUE_ITEM, QUEUED_RUN, RUN, STEP, TEST_SUMMARY, TREND, TREND_ROWS,
                              USER, check)
from webhook_helpers import headers_for, sample

from sidecar.readmodel.classes import ancestry
from sidecar.readmodel.java_classes import CLASSES as DECLARED

_RO = "io.jenkins.blueocean.rest."
_EMB = "io.jenkins.blueocean.service.embedded.rest."
SHAPES = {
    _RO + "impl.pipeline.PipelineImpl": PIPELINE, _RO + "impl.pipeline.PipelineRunImpl": RUN,
    _EMB + "QueuedBlueRun": QUEUED_RUN, _EMB + "QueueItemImpl": QUEUE_ITEM,
    _RO + "impl.pipeline.PipelineNodeImpl": NODE, _RO + "impl.pipeline.PipelineStepImpl": STEP,
    _RO + "impl.pipeline.InputStepImpl": INPUT, _EMB + "ChangeSetResource": CHANGESET,
    _EMB + "UserImpl": USER, _RO + "model.BlueTestSummary": TEST_SUMMARY,
    _EMB + "junit.BlueJUnitTrend": TREND, _RO + "impl.pipeline.StageDurationTrend": TREND,
    _EMB + "junit.BlueJUnitTrend$BlueJUnitTrendRow": TREND_ROWS["junit"],
    _RO + "impl.pipeline.StageDurationTrend$StageDurationTrendRow": TREND_ROWS["stageDuration"],
    "org.jenkinsci.plugins.workflow.support.actions.LogActionImpl": ACTION,
    "org.jenkinsci.plugins.workflow.support.actions.PauseAction": ACTION,
}
WALKED = ("succeeded", "running", "paused", "failed")
LOG_ACTION = "org.jenkinsci.plugins.workflow.actions.LogAction"
# What Blue Ocean's own tests and recordings show (PipelineApiTest, PipelineNodeTest,
# reference §1.10), checked apart from the declarations.
KNOWN = {
    _RO + "impl.pipeline.PipelineImpl": ["org.jenkinsci.plugins.workflow.job.WorkflowJob",
                                         "hudson.model.Job", _RO + "model.BluePipeline"],
    _RO + "impl.pipeline.PipelineRunImpl": ["org.jenkinsci.plugins.workflow.job.WorkflowRun",
                                            _EMB + "AbstractRunImpl", _RO + "model.BlueRun",
                                            _RO + "model.Resource"],
    "org.jenkinsci.plugins.workflow.support.actions.LogActionImpl": [LOG_ACTION],
}


class Walk:
    """Follows links breadth first; remembers what answered and every class seen."""

    def __init__(self, client):
        self.client, self.answered, self.classes = client, {}, set()

    def run(self, start: str, within: tuple[str, ...]) -> int:
        """Follow every link from start, expanding those under within; links followed."""
        queue, seen = deque([start]), {start}
        while queue:
            href = queue.popleft()
            body = self.get(href)
            if body is None or not href.startswith(within):
                continue
            for link in links_in(body):
                if link not in seen:
                    seen.add(link)
                    queue.append(link)
        return len(seen)

    def get(self, href: str):
        """The JSON body of href (None for a log), checked; cached."""
        if href not in self.answered:
            response = self.client.get(href)
            assert response.status_code == 200, (href, response.get_data(as_text=True))
            if response.content_type.startswith("text/plain"):
                self.answered[href] = None
            else:
                self.answered[href] = response.json
                assert shape_problems(response.json) == [], href
                self.classes |= classes_in(response.json)
        return self.answered[href]


def links_in(doc) -> list[str]:
    """Every href of every _links object inside doc."""
    found = []
    if isinstance(doc, list):
        for item in doc:
            found += links_in(item)
    elif isinstance(doc, dict):
        for key, value in doc.items():
            if key == "_links":
                found += [link["href"] for link in value.values() if link]
            else:
                found += links_in(value)
    return found


def classes_in(doc) -> set[str]:
    """Every _class in doc but inside _links, as blueocean-core-js's augmenter finds them."""
    if isinstance(doc, list):
        return set().union(*map(classes_in, doc)) if doc else set()
    if not isinstance(doc, dict):
        return set()
    found = {doc["_class"]} if isinstance(doc.get("_class"), str) else set()
    return found.union(*(classes_in(v) for k, v in doc.items() if k != "_links"))


def shape_problems(doc) -> list[str]:
    """A document, or each item of a list, against the shape of its _class."""
    items = doc if isinstance(doc, list) else [doc]
    problems = []
    for item in items:
        kind = item.get("_class") if isinstance(item, dict) else None
        if kind == _EMB + "ExtensionClassImpl":
            problems += check(item, EXTENSION_CLASS)
        elif kind in SHAPES:
            problems += check(item, SHAPES[kind])
        elif kind is None or not kind.startswith(_EMB + "ExtensionClassContainerImpl"):
            problems.append(f"no Blue Ocean shape for {kind!r}")
        else:
            problems += check(item, CLASSES)
    return problems


@pytest.fixture
def walked(app, scenarios):
    """The walk of every run and from the pipelines list; links followed per state."""
    walk, counts = Walk(app.test_client()), {}
    for name in WALKED:
        href = f"{runs.BO_PIPELINE}runs/{scenarios[name]}/"
        counts[name] = walk.run(href, (href, "/blue/rest/users/"))
    counts["everything"] = walk.run("/blue/rest/organizations/jenkins/pipelines/",
                                    ("/blue/rest/",))
    return walk, counts


def test_every_link_of_every_run_answers_with_its_shape(walked, scenarios):
    walk, counts = walked
    print("links followed:", counts)
    for name in WALKED:
        run = f"{runs.BO_PIPELINE}runs/{scenarios[name]}/"
        for part in ("", "nodes/", "steps/", "log/", "actions/", "artifacts/", "tests/",
                     "blueTestSummary/", "changeSet/"):
            assert run + part in walk.answered, (name, part)
        assert counts[name] >= 40
    succeeded = walk.answered[f"{runs.BO_PIPELINE}runs/{scenarios['succeeded']}/"]
    (commit,) = succeeded["changeSet"]
    assert (commit["commitId"], commit["msg"], commit["author"]["id"]) == (
        "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "Update README.md", "baxterthehacker")
    assert commit["_links"]["self"]["href"] in walk.answered
    assert "/blue/rest/users/baxterthehacker/favorites/" in walk.answered
    paused = [href for href in walk.answered if href.endswith("/input/")]
    assert paused and all(walk.answered[h]["id"] for h in paused)
    queue = walk.answered[f"{runs.BO_PIPELINE}queue/"]
    assert {item["expectedBuildNumber"] for item in queue} == {
        scenarios["queued"], scenarios["jenkins-queue"]}
    rows = walk.answered[f"{runs.BO_PIPELINE}trends/stageDuration/rows/"]
    assert {row["id"] for row in rows} == {str(n) for n in scenarios.values()}
    assert counts["everything"] > sum(counts[name] for name in WALKED) / 2


def test_every_emitted_class_has_its_java_hierarchy(app, walked):
    walk, _ = walked
    client = app.test_client()
    emitted = sorted(walk.classes)
    assert LOG_ACTION not in emitted and len(emitted) >= 15
    answer = client.post("/blue/rest/classes/", json={"q": emitted}).json
    assert check(answer, CLASSES) == [] and sorted(answer["map"]) == emitted
    for name in emitted:
        assert name in DECLARED, f"{name} is emitted but its Java class is not declared"
        assert answer["map"][name]["classes"] == ancestry(name)
        assert client.get(f"/blue/rest/classes/{name}/").json["classes"] == ancestry(name)
        if name.startswith("io.jenkins.blueocean.") and "$" not in name and "Link" not in name:
            assert ancestry(name)[-1] == _RO + "model.Resource", name
    for name, declared in DECLARED.items():  # each chain reaches java.lang.Object
        assert declared.extends is None or declared.extends in DECLARED, name
        assert declared.path.endswith(".java") and declared.revision
    for name, wanted in KNOWN.items():
        assert [c for c in ancestry(name) if c in wanted] == wanted, name


def test_a_disabled_pipeline_starts_no_run(app, store):
    runs.create_pipeline(store)
    client = app.test_client()
    assert client.put(f"{runs.BO_PIPELINE}disable/").status_code == 200
    assert client.get(runs.BO_PIPELINE).json["disabled"] is True
    assert client.post(f"{runs.BO_PIPELINE}runs/", json={}).status_code == 409
    body = sample("github/push.json")
    hooked = client.post(f"/hooks/github?pipeline={runs.PIPELINE}", data=body, headers={
        "Content-Type": "application/json", **headers_for("github", body, "push", runs.SECRET)})
    assert hooked.status_code == 200 and "disabled" in hooked.json["ignored"]
    assert client.put(f"{runs.BO_PIPELINE}enable/").status_code == 200
    assert client.post(f"{runs.BO_PIPELINE}runs/", json={}).status_code == 200
    assert client.get(runs.BO_PIPELINE).json["disabled"] is False
