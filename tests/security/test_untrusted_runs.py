"""A pull request's config tries to cross the trust boundary; the sidecar decides trust.

We test these attacks, through the render CLI (a separate process, as a user runs it)
and through a GitHub pull-request webhook whose config is read at the head commit and
started by the engine against the fake Jenkins (SQLite and PostgreSQL):
- the config asks for a privileged container, applyYamlConfig and applyAppConfig (the
  service account token), a credentialed publish and an envFrom Secret, and widens its
  own protected list to every branch: the pod has no privileged container, no token
  volume, no Secret reference, no automounted token, seccomp RuntimeDefault and no
  privilege escalation in any container, only the untrusted cache; every withheld step
  is in the Jenkinsfile with "not run for untrusted events" and is Skipped in the run;
- a push to an unprotected branch is untrusted although the config protects it; the
  same config on a protected branch renders the armed steps (so the checks can fail);
- the config can narrow the project's protected list: a protected branch it leaves out
  is untrusted;
- events that are not known, `tag` without a tag ref and a tag ref under another event
  are a 400 at the API trigger and at a rerun, and start nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fakes.jenkins import FakeJenkins
from fakes.scm import FakeScm
from webhook_helpers import create_pipeline, deliver, headers_for, sample

from sidecar import outbound
from sidecar.engine.loop import Engine
from sidecar.jenkins import JenkinsClient
from sidecar.services import projects
from sidecar.store.models import Execution

ATTACK = """
cache: {protectedBranches: ["**"]}
stages:
- name: Build
  cache: {paths: [/root/.npm]}
  steps:
  - runScriptConfig: {image: node:22, shellScript: npm test}
    envFrom: [{sourceName: npm-token, sourceKey: token}]
  - runScriptConfig: {image: docker:27-dind, shellScript: dockerd}
    privileged: true
  - publishImageConfig: {tag: "evil:1", registry: registry.example.com,
                         credentialSecret: registry-push}
- name: Deploy
  steps:
  - applyYamlConfig: {content: "kind: ClusterRoleBinding", namespace: kube-system}
  - applyAppConfig: {chart: ./evil, releaseName: evil, namespace: kube-system}
"""
SETTINGS = "secrets: [npm-token, registry-push]\n"
WITHHELD = ("step-0-1", "step-0-2", "step-1-0", "step-1-1")
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"   # the sample pull request's head commit
TOKEN = "ghp-provider-token"
JENKINS_TOKEN = "11c2b6a0f3e94d7e8b5a4c3d2e1f0a9b8c"


def _render(tmp_path: Path, context: str, config: str = ATTACK,
            settings: str = SETTINGS) -> tuple[str, dict]:
    for name, text in (("c.yml", config), ("ctx.yml", context), ("s.yml", settings)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "sidecar.cli", "render", "c.yml",
                           "--context", "ctx.yml", "--settings", "s.yml", "--out", "out"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    return (out / "Jenkinsfile").read_text(), yaml.safe_load((out / "pod.yaml").read_text())


def assert_nothing_crosses(pod: dict) -> None:
    """No privilege, no token, no Secret, only the untrusted cache."""
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    containers = spec["containers"] + spec.get("initContainers", [])
    for container in containers:
        context = container.get("securityContext", {})
        assert not context.get("privileged")
        assert context["allowPrivilegeEscalation"] is False
        assert "envFrom" not in container
        assert not [e for e in container.get("env", []) if "secretKeyRef" in
                    e.get("valueFrom", {})]
    text = yaml.safe_dump(pod)
    assert "serviceAccountToken" not in text and "secret" not in text.lower()
    host_paths = [v["hostPath"]["path"] for v in spec.get("volumes", []) if "hostPath" in v]
    assert host_paths and all("/untrusted/" in path for path in host_paths)


def test_a_pull_request_config_renders_nothing_armed(tmp_path):
    jenkinsfile, pod = _render(tmp_path, "event: pull_request\nbranch: main\n"
                                         "ref: refs/pull/1/head\n")
    assert_nothing_crosses(pod)
    assert {c["name"] for c in pod["spec"]["containers"]} == {"jnlp", "step-0-0"}
    for step in WITHHELD:
        block = jenkinsfile.split(f"stage('{step}')")[1].split("stage(")[0]
        assert "not run for untrusted events" in block and "container(" not in block


def test_an_unprotected_branch_cannot_protect_itself(tmp_path):
    _, pod = _render(tmp_path, "event: push\nbranch: feature/x\n")
    assert_nothing_crosses(pod)


def test_a_protected_branch_gets_the_armed_steps(tmp_path):
    jenkinsfile, pod = _render(tmp_path, "event: push\nbranch: main\n")
    text = yaml.safe_dump(pod)
    assert "privileged: true" in text and "serviceAccountToken" in text
    assert "secretKeyRef" in text and "/trusted/" in text
    assert "not run for untrusted events" not in jenkinsfile


def test_the_config_can_narrow_the_protected_list(tmp_path):
    narrowed = ATTACK.replace('["**"]', "[release/*]")
    _, pod = _render(tmp_path, "event: push\nbranch: main\n", config=narrowed)
    assert_nothing_crosses(pod)


@pytest.fixture
def fake_jenkins():
    with FakeJenkins(auto_start=True, api_tokens={"sidecar": JENKINS_TOKEN}) as jenkins:
        yield jenkins


def test_a_pull_request_webhook_runs_nothing_armed(app, client, fake_jenkins, templates):
    app.extensions["sidecar"].outbound = outbound.Client(outbound.Policy.parse("127.0.0.1/32"))
    store = app.extensions["sidecar"].store
    with store.session() as session:
        projects.update_settings(session, "shop", {"secrets": ["npm-token", "registry-push"]})
    with FakeScm(token=TOKEN) as scm:
        scm.files[("codertocat/hello-world", HEAD, "ci.yml")] = ATTACK
        pipeline = create_pipeline(client, repositoryUrl="https://github.com/Codertocat/Hello-World",
                                   providerToken=TOKEN, configPath="ci.yml",
                                   triggers={"apiUrl": scm.url})
        body = sample("github/pull_request-opened.json")
        answer = deliver(client, "github", pipeline, body,
                         headers_for("github", body, "pull_request"))
    assert answer.status_code == 202, answer.json
    jenkins = JenkinsClient(url=fake_jenkins.url, user="sidecar", token=JENKINS_TOKEN)
    try:
        Engine(store=store, jenkins=jenkins, templates=templates, queue_wait=5).cycle()
    finally:
        jenkins.close()
    with store.session() as session:
        run = session.get(Execution, answer.json["executionId"])
        assert run.event == "pull_request" and run.config_snapshot == ATTACK
        assert_nothing_crosses(yaml.safe_load(run.pod_yaml))
        assert run.jenkinsfile.count("not run for untrusted events") >= len(WITHHELD)
        skipped = {f"step-{s.stage_index}-{s.step_index}" for s in run.steps
                   if s.state == "Skipped"}
    # Stage 0 is the clone the run adds; the config's stages come after it.
    assert skipped >= {"step-1-1", "step-1-2", "step-2-0", "step-2-1"}


@pytest.mark.parametrize("fields,why", [
    ({"event": "evil"}, "event must be one of"),
    ({"event": "Push"}, "event must be one of"),
    ({"event": "tag", "ref": "refs/heads/main"}, "needs a tag ref"),
    ({"event": "push", "ref": "refs/tags/v1"}, "its event must be tag"),
    ({"event": "manual", "ref": "refs/tags/v1"}, "its event must be tag"),
])
def test_unknown_events_and_misfit_refs_are_refused(client, fields, why):
    pipeline = create_pipeline(client)
    answer = client.post(f"/api/v1/pipelines/{pipeline}/executions", json=fields)
    assert answer.status_code == 400 and why in answer.get_data(as_text=True)
    assert client.get(f"/api/v1/executions?pipeline={pipeline}").json == []


def test_a_rerun_checks_the_event_again(app, client):
    pipeline = create_pipeline(client)
    run = client.post(f"/api/v1/pipelines/{pipeline}/executions", json={}).json
    with app.extensions["sidecar"].store.session() as session:
        session.get(Execution, run["id"]).event = "evil"   # a row written before the check
    answer = client.post(f"/api/v1/executions/{run['id']}/rerun")
    assert answer.status_code == 400 and "event must be one of" in answer.get_data(as_text=True)
    assert len(client.get(f"/api/v1/executions?pipeline={pipeline}").json) == 1


def test_a_tag_without_a_ref_gets_its_tag_ref(client):
    pipeline = create_pipeline(client)
    run = client.post(f"/api/v1/pipelines/{pipeline}/executions",
                      json={"event": "tag", "branch": "v1.0"}).json
    assert (run["event"], run["ref"]) == ("tag", "refs/tags/v1.0")
