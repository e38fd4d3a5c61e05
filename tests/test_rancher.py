"""Rancher pipeline configs load as Rancher wrote them, catalog steps included.

We test these aspects:
- the config made of every example in Rancher's pipeline docs loads without a change,
  with every Rancher step type and each example's values as written;
- the fields of Rancher's Go types (ApplyAppConfig, PublishCatalogConfig) are the keys
  the schema accepts;
- a catalog template id resolves through the project's `catalogs` (global prefix,
  '-' in catalog names, unknown catalogs) to chart and repository; answers are typed as
  helm's --set types them; Rancher's fields and the sidecar's cannot be mixed per pair;
- publishCatalogConfig's credential Secret is mounted only for trusted events and, where
  the project lists allowed secrets, only when allowed;
- the catalog tool's script, run with git on a local catalog, publishes the packaged
  chart at charts/<template>/<version> with the CICD variables substituted, committed as
  the configured author, and fails without a credential.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from scenarios import CASES
from sidecar import cache, config, render
from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.rancher import resolve_template, typed_answer
from sidecar.config.schema import STEP_CONFIGS
from sidecar.errors import ConfigError
from sidecar.config import secrets
from sidecar.config.loader import format_path

DOCS_CONFIG = CASES / "rancher_docs_every_step.yml"
RANCHER_STEP_TYPES = {"runScriptConfig", "publishImageConfig", "publishCatalogConfig",
                      "applyYamlConfig", "applyAppConfig"}
# pkg/apis/project.cattle.io/v3/pipeline_types.go (rancher/rancher v2.5), yaml tags.
RANCHER_FIELDS = {
    "applyAppConfig": {"catalogTemplate", "version", "answers", "name", "targetNamespace"},
    "publishCatalogConfig": {"path", "catalogTemplate", "version", "gitUrl", "gitBranch",
                             "gitAuthor", "gitEmail"},
}
CATALOGS = {"library": "https://charts.example.com/library",
            "library-extra": "https://charts.example.com/extra"}


def test_rancher_docs_config_loads_unchanged():
    pipeline = config.load_pipeline(DOCS_CONFIG)
    raw = yaml.safe_load(DOCS_CONFIG.read_text(encoding="utf-8"))
    kinds = {step.kind for stage in pipeline.stages for step in stage.steps}
    assert kinds == RANCHER_STEP_TYPES
    for stage, raw_stage in zip(pipeline.stages, raw["stages"]):
        for step, raw_step in zip(stage.steps, raw_stage["steps"]):
            given = raw_step[step.kind]
            expected = dict(given)
            if step.kind == "applyAppConfig":
                expected["releaseName"] = expected.pop("name")
                expected["namespace"] = expected.pop("targetNamespace")
            assert {k: step.options[k] for k in expected} == expected
            assert dict(step.env) == raw_step.get("env", {})
    assert pipeline.timeout == 30
    assert pipeline.notification.condition == ("Failed", "Success", "Changed")


@pytest.mark.parametrize("kind", sorted(RANCHER_FIELDS))
def test_schema_accepts_rancher_fields(kind):
    assert RANCHER_FIELDS[kind] <= set(STEP_CONFIGS[kind]["properties"])


@pytest.mark.parametrize("template_id, chart, repo", [
    ("cattle-global-data:library-mysql", "mysql", CATALOGS["library"]),
    ("library-mysql", "mysql", CATALOGS["library"]),
    ("library-extra-redis", "redis", CATALOGS["library-extra"]),
    ("library-extra", "extra", CATALOGS["library"]),
])
def test_catalog_template_resolves(template_id, chart, repo):
    assert resolve_template(template_id, CATALOGS) == (chart, repo)


def test_unknown_catalog_is_a_clear_error(templates):
    pipeline = config.parse_pipeline("""
stages:
- name: Deploy
  steps:
  - applyAppConfig: {catalogTemplate: other-mysql, version: 1.0.0, name: db, targetNamespace: t}
""")
    settings = ProjectSettings(catalogs=CATALOGS)
    with pytest.raises(ConfigError) as excinfo:
        render.render(pipeline, RenderContext(), settings,
                      cache.place(pipeline, RenderContext(), settings), templates)
    assert excinfo.value.lines == [
        "stage 'Deploy': applyAppConfig.catalogTemplate: no catalog of the project's "
        "'catalogs' setting matches 'other-mysql' (known: library, library-extra); add the "
        "catalog as catalogs: {<name>: <Helm repository URL>}"]


@pytest.mark.parametrize("text, value", [
    ("false", False), ("TRUE", True), ("null", None), ("0", 0), ("3", 3), ("-12", -12),
    ("0123", "0123"), ("1.5", "1.5"), ("", ""), ("9223372036854775808", "9223372036854775808"),
    ("a,b", "a,b"),
])
def test_answers_typed_as_helm_set(text, value):
    assert typed_answer(text) == value and type(typed_answer(text)) is type(value)


def test_rancher_and_own_fields_do_not_mix():
    with pytest.raises(ConfigError) as excinfo:
        config.parse_pipeline("""
stages:
- name: Deploy
  steps:
  - applyAppConfig:
      catalogTemplate: library-mysql
      chart: mysql
      repo: https://charts.example.com
      name: a
      releaseName: b
      answers: {x: "1"}
      set: {y: 2}
      targetNamespace: t
  - applyAppConfig: {version: 1.0.0}
""", "c.yml")
    assert sorted(line.split(": ", 2)[2] for line in excinfo.value.lines) == sorted([
        "'catalogTemplate' (Rancher) and 'chart' mean the same; use one",
        "'name' (Rancher) and 'releaseName' mean the same; use one",
        "'catalogTemplate' takes its repository from the project's catalogs; drop 'repo'",
        "'answers' (Rancher) and 'set' mean the same; use one",
        "applyAppConfig needs 'chart' or Rancher's 'catalogTemplate'",
        "applyAppConfig needs 'releaseName' or Rancher's 'name'",
    ])


PUBLISH = """
stages:
- name: Publish
  steps:
  - publishCatalogConfig:
      path: chart
      catalogTemplate: app
      version: 1.0.0
      gitUrl: https://git.example.com/catalog.git
      gitBranch: main
      gitAuthor: ci
      gitEmail: ci@example.com
      credentialSecret: catalog-git
"""


@pytest.mark.parametrize("event, mounted", [("push", True), ("pull_request", False)])
def test_publish_credential_only_for_trusted_runs(templates, event, mounted):
    pipeline = config.parse_pipeline(PUBLISH)
    context = RenderContext(event=event, branch="main", ref="refs/heads/main")
    settings = ProjectSettings(secrets=("catalog-git",))
    pod = render.render(pipeline, context, settings, cache.place(pipeline, context, settings),
                        templates).pod
    steps = [c for c in pod["spec"]["containers"] if c["name"] != "jnlp"]
    secrets = [v["secret"]["secretName"] for v in pod["spec"].get("volumes", [])
               if "secret" in v]
    assert secrets == (["catalog-git"] if mounted else [])
    if mounted:
        (container,) = steps
        assert "/var/run/secrets/git" in [m["mountPath"] for m in container["volumeMounts"]]
    else:  # withheld: no container at all, the Jenkinsfile says why
        assert steps == []


def test_publish_credential_is_a_secret_reference():
    located = config.load_text(PUBLISH, "publish.yml")
    found = [(name, format_path(path)) for name, path in secrets.references(located)]
    assert found == [("catalog-git", "stages[0].steps[0].publishCatalogConfig.credentialSecret")]
    (problem,) = secrets.problems(located, ("other",))
    assert "catalog-git" in problem.message and problem.pos is not None


FAKE_HELM = """#!/bin/sh
# helm package CHART --version V --destination DIR, as far as the catalog tool uses it.
set -eu
chart=$2; version=$4; out=$6
name=$(sed -n 's/^name: *//p' "$chart/Chart.yaml")
mkdir -p "$out" "$out/tmp/$name"
cp -R "$chart"/. "$out/tmp/$name/"
sed -i "s/^version:.*/version: $version/" "$out/tmp/$name/Chart.yaml"
tar -czf "$out/$name-$version.tgz" -C "$out/tmp" "$name"
rm -rf "$out/tmp"
"""


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def catalog_run(tmp_path, templates):
    """Run the catalog tool's script in a workspace against a local bare catalog."""
    bare, seed = tmp_path / "catalog.git", tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "clone", "-q", str(bare), str(seed)], check=True,
                   capture_output=True)
    (seed / "README.md").write_text("catalog\n")
    _git("add", ".", cwd=seed)
    _git("-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "init", cwd=seed)
    _git("push", "-q", "origin", "HEAD:main", cwd=seed)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "helm").write_text(FAKE_HELM)
    (bin_dir / "helm").chmod(stat.S_IRWXU)
    workspace = tmp_path / "workspace"
    chart = workspace / "charts" / "app"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("name: app\nversion: 0.0.0\n")
    (chart / "values.yaml").write_text("image: registry/app:${CICD_GIT_TAG}\nkeep: ${HOME}\n")

    def run(**env: str) -> subprocess.CompletedProcess:
        full = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path),
                "CATALOG_PATH": "charts/app", "CATALOG_TEMPLATE": "app",
                "CATALOG_VERSION": "1.2.0", "GIT_URL": str(bare), "GIT_BRANCH": "main",
                "GIT_AUTHOR": "Release Bot", "GIT_EMAIL": "bot@example.com",
                "CICD_GIT_TAG": "v1.2.0", **env}
        return subprocess.run(["sh", "-c", templates.tools["catalog"]["script"]],
                              cwd=workspace, env=full, capture_output=True, text=True)
    run.bare = bare
    return run


def test_catalog_script_publishes_the_chart(catalog_run, tmp_path):
    result = catalog_run(USERNAME="bot", PASSWORD="secret")
    assert result.returncode == 0, result.stderr
    check = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", str(catalog_run.bare), str(check)], check=True)
    published = check / "charts" / "app" / "1.2.0"
    assert (published / "Chart.yaml").read_text() == "name: app\nversion: 1.2.0\n"
    assert (published / "values.yaml").read_text() == \
        "image: registry/app:v1.2.0\nkeep: ${HOME}\n"
    assert _git("log", "-1", "--format=%an <%ae> %s", cwd=check).strip() == \
        "Release Bot <bot@example.com> add version 1.2.0 of catalog template app"
    assert "secret" not in result.stdout + result.stderr


@pytest.mark.parametrize("env, message", [
    ({}, "no Git credential"),
    ({"USERNAME": "bot", "CATALOG_VERSION": "../x"}, "is not a directory name"),
])
def test_catalog_script_refuses(catalog_run, env, message):
    result = catalog_run(**env)
    assert result.returncode != 0 and message in result.stderr
