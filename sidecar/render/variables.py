"""CICD_* variables and how values become container environment entries.

Kubernetes expands ``$(NAME)`` in env values. Values the sidecar writes (CICD_*,
step-type parameters) are escaped so they arrive literally; a step's own ``env``
is passed as written, so users may refer to ``$(CICD_GIT_COMMIT)`` as Kubernetes
documents it.
"""

from __future__ import annotations

import re

from sidecar.config.inputs import RenderContext

_PRESERVED = re.compile(r"\$\{(CICD_[A-Z_]+)\}")


def cicd_variables(context: RenderContext) -> dict[str, str]:
    """The CICD_* variables of one execution (DESIGN §3)."""
    return {
        "CICD_PIPELINE_ID": context.pipeline_id,
        "CICD_EXECUTION_ID": context.execution_id,
        "CICD_EXECUTION_SEQUENCE": str(context.run),
        "CICD_TRIGGER_TYPE": context.trigger_type,
        "CICD_EVENT": context.event,
        "CICD_GIT_URL": context.git_url,
        "CICD_GIT_BRANCH": context.branch,
        "CICD_GIT_REF": context.ref,
        "CICD_GIT_COMMIT": context.commit,
    }


def substitute(text: str, variables: dict[str, str]) -> str:
    """Replace ``${CICD_…}`` with its value in the fields Rancher configs rely on (tags, paths)."""
    return _PRESERVED.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def literal_env(name: str, value: str) -> dict:
    """An env entry whose value Kubernetes will not expand."""
    return {"name": name, "value": value.replace("$", "$$")}


def cicd_env(context: RenderContext) -> list[dict]:
    """Env entries for every step container: CICD_* plus the node the pod runs on."""
    entries = [literal_env(name, value) for name, value in cicd_variables(context).items()]
    return entries + [node_name_env()]


def node_name_env() -> dict:
    """CICD_NODE_NAME from the downward API.

    NODE_NAME inside a build is the agent (pod) name; the Kubernetes node comes from here.
    """
    return {"name": "CICD_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}


POD_NAME_VARIABLE = "SIDECAR_POD_NAME"


def pod_name_env() -> dict:
    """The pod's own name from the downward API (a slot cache's subPathExpr reads it)."""
    return {"name": POD_NAME_VARIABLE, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
