"""Whether a run is trusted, decided by the sidecar and never by the commit (DESIGN §10).

A run is trusted only for an event that no outsider can cause (push, tag, manual,
cron, image) on a ref the sidecar holds as protected: a tag, or a branch matching the
project's `protectedBranches` setting. The config being built may name its own
`cache.protectedBranches`; it can only narrow the project's list (a branch must match
both), because a pull request can write anything into that file.

An untrusted run gets nothing that crosses the boundary: steps that need a service
account token, a privileged container or a registry credential are not run at all
(`withheld`), rather than run without what they need.
"""

from __future__ import annotations

from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.model import Constraint, Pipeline, Step
from sidecar.config.schema import EVENTS
from sidecar.config.when import branch_matches

TRUSTED_EVENTS = ("push", "tag", "manual", "cron", "image")
UNTRUSTED_EVENTS = tuple(event for event in EVENTS if event not in TRUSTED_EVENTS)
UNTRUSTED_REASON = "not run for untrusted events"
TAG_PREFIX, BRANCH_PREFIX = "refs/tags/", "refs/heads/"


def ref_problem(event: str, ref: str) -> str | None:
    """Why an event does not fit its ref (`tag` only for a tag ref, a tag ref only for `tag`)."""
    if event not in EVENTS:
        return f"event must be one of {', '.join(EVENTS)}"
    if event == "tag" and ref and not ref.startswith(TAG_PREFIX):
        return f"event tag needs a tag ref ({TAG_PREFIX}...), got {ref!r}"
    if event != "tag" and ref.startswith(TAG_PREFIX):
        return f"ref {ref!r} is a tag; its event must be tag"
    return None


def is_protected(branch: str, settings: ProjectSettings, pipeline: Pipeline) -> bool:
    """True when branch matches the project's protected list and the config's, if it has one."""
    lists = [settings.protected_branches]
    if pipeline.protected_branches is not None:
        lists.append(pipeline.protected_branches)
    return all(any(branch_matches(Constraint(include=(glob,)), branch) for glob in globs)
               for globs in lists)


def is_trusted(context: RenderContext, settings: ProjectSettings, pipeline: Pipeline) -> bool:
    """True when the run may use what crosses the trust boundary (Secrets, tokens, cache)."""
    if context.event not in TRUSTED_EVENTS or ref_problem(context.event, context.ref):
        return False
    if context.event == "tag":
        return True     # creating a tag needs push rights; a pull request cannot
    if context.ref and context.ref != BRANCH_PREFIX + context.branch:
        return False    # e.g. a pull request's head fetched under a push event
    return is_protected(context.branch, settings, pipeline)


def withheld(step: Step) -> str | None:
    """Why an untrusted run must not run step, or None when it may run as it is."""
    if step.kind in ("applyYamlConfig", "applyAppConfig"):
        need = "the service account token"
    elif step.privileged:
        need = "a privileged container"
    elif step.kind == "publishImageConfig" and step.options.get("credentialSecret"):
        need = "the registry credential"
    elif step.kind == "publishCatalogConfig" and step.options.get("credentialSecret"):
        need = "the Git catalog's credential"
    else:
        return None
    return f"{UNTRUSTED_REASON}: {step.kind} needs {need}"
