"""Two projects' objects and the tokens that see them, for the access tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sidecar.services import executions, notifiers, pipelines, projects
from sidecar.services.access import ANONYMOUS
from sidecar.store.models import Approval, ExecutionCommit, LogChunk, utcnow

PROJECTS = ("team-a", "team-b")
CONFIG = """
stages:
- name: Build
  steps:
  - runScriptConfig: {image: alpine, shellScript: make}
- name: Release
  steps:
  - approvalConfig: {message: Ship it?, id: ship, submitters: [admin, a-writer, b-writer]}
"""
# name: (token, access, projects)
TOKENS = {
    "admin": ("admin-token", "write", ["*"]),
    "a-writer": ("a-writer-token", "write", ["team-a"]),
    "a-reader": ("a-reader-token", "read", ["team-a"]),
    "b-writer": ("b-writer-token", "write", ["team-b"]),
    "globs": ("globs-token", "read", ["tea?-b", "x-*"]),
    "gc": ("gc-token", "cache-report", ["*"]),
}


def bearer(name: str) -> dict[str, str]:
    """The Authorization header of a named token."""
    return {"Authorization": f"Bearer {TOKENS[name][0]}"}


def write_tokens(path: Path) -> Path:
    """A token file of TOKENS."""
    path.write_text(json.dumps({"tokens": [
        {"user": name, "access": access, "projects": globs, "token": token}
        for name, (token, access, globs) in TOKENS.items()]}))
    return path


@dataclass
class Tenants:
    """The app, its client and the ids of each project's objects."""

    app: object
    client: object
    approvals: dict[str, int]

    def store(self):
        return self.app.extensions["sidecar"].store


def seed(store, project: str) -> int:
    """A pipeline with two runs, a log, node history, settings, a notifier; its approval id."""
    with store.session() as session:
        pipelines.create(session, {"project": project, "name": "web", "inlineConfig": CONFIG})
        first = executions.trigger(session, f"{project}:web", executions.TriggerRequest())
        executions.trigger(session, f"{project}:web", executions.TriggerRequest())
        first.state = first.steps[1].state = "Pending"
        session.add(LogChunk(execution_id=first.id, stage_index=0, step_index=0, offset=0,
                             text=f"secret build output of {project}\n"))
        session.add(ExecutionCommit(execution_id=first.id, position=0, commit_id="c0ffee",
                                    message="fix", author_id=f"dev-{project}"))
        executions.record_node(session, first, f"node-{project}", "api")
        approval = Approval(execution_id=first.id, stage_index=1, step_index=0, input_id="ship",
                            jenkins_input_id="Ship", message="Ship it?", submitters=[],
                            parameters=[], state="Pending", created_at=utcnow())
        session.add(approval)
        projects.update_settings(session, project, {"executorQuota": 3})
        notifiers.create(session, {"project": project, "name": "chat", "type": "webhook",
                                   "url": f"https://hooks.example/{project}",
                                   "secret": f"secret-of-{project}"}, ANONYMOUS)
        session.flush()
        return approval.id
