"""A project's own write token cannot widen what the platform set for the project.

We test these attacks through the HTTP API (SQLite and PostgreSQL), with team-a's write
token against team-a's own settings:
- adding another team's Secret to the allow-list, choosing another service account,
  lifting the executor quota (0 is unlimited) or moving the node cache directory is a
  403 naming the settings, and nothing is stored; removing a value the platform stored
  (so that the default applies) is refused the same way;
- the Secret the attack wanted stays unusable: a config naming it is still a 400;
- the project's other settings stay the team's to change, also when the request sends
  the platform's settings back unchanged, as a GET returned them;
- a write token that sees every project changes all of them.
"""

from __future__ import annotations

import pytest
from tenants import bearer

WIDENINGS = [{"secrets": ["team-b-deploy-key"]}, {"serviceAccount": "team-b-deployer"},
             {"executorQuota": 0}, {"cacheDir": "/var/lib/jenkins-sidecar-cache/team-b"},
             {"executorQuota": None}]
CONFIG = """stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: env}
    envFrom:
    - {sourceName: team-b-deploy-key, sourceKey: token}
"""


def _settings(tenants, who: str = "a-writer") -> dict:
    return tenants.client.get("/api/v1/settings/team-a", headers=bearer(who)).json


@pytest.mark.parametrize("change", WIDENINGS, ids=lambda c: next(iter(c)))
def test_a_project_token_cannot_widen_its_own_limits(tenants, change):
    before = _settings(tenants)
    answer = tenants.client.put("/api/v1/settings/team-a", json=change,
                                headers=bearer("a-writer"))
    assert answer.status_code == 403
    assert answer.json["message"] == (
        f"{next(iter(change))} of project team-a may be changed only with a write token "
        "that sees every project")
    assert _settings(tenants) == before


def test_the_foreign_secret_stays_unusable(tenants):
    tenants.client.put("/api/v1/settings/team-a", json={"secrets": ["team-b-deploy-key"]},
                       headers=bearer("a-writer"))
    answer = tenants.client.post("/api/v1/pipelines", headers=bearer("a-writer"), json={
        "project": "team-a", "name": "steal", "inlineConfig": CONFIG})
    assert answer.status_code == 400
    assert "team-b-deploy-key" in answer.json["errors"][0]["message"]


def test_the_rest_stays_the_projects_also_with_limits_sent_back_unchanged(tenants):
    body = {**_settings(tenants), "warmHold": 0.2, "protectedBranches": ["main", "release/*"]}
    answer = tenants.client.put("/api/v1/settings/team-a", json=body, headers=bearer("a-writer"))
    assert answer.status_code == 200, answer.json
    assert answer.json["warmHold"] == 0.2 and answer.json["executorQuota"] == 3
    assert answer.json["protectedBranches"] == ["main", "release/*"]


def test_a_token_that_sees_every_project_sets_the_limits(tenants):
    change = {"secrets": ["team-a-npm"], "serviceAccount": "team-a-agent", "executorQuota": 5,
              "cacheDir": "/var/lib/jenkins-sidecar-cache"}
    answer = tenants.client.put("/api/v1/settings/team-a", json=change, headers=bearer("admin"))
    assert answer.status_code == 200, answer.json
    assert {k: _settings(tenants)[k] for k in change} == change
    removed = tenants.client.put("/api/v1/settings/team-a", json={"executorQuota": None},
                                 headers=bearer("admin"))
    assert removed.json["executorQuota"] == 2  # the built-in default again
