"""Rancher's catalog steps as tool calls: a Helm release from a catalog, a chart published to Git.

`applyAppConfig` with Rancher's `catalogTemplate` installs `<template>` from the
repository the project's `catalogs` setting names for `<catalog>`; Rancher's `answers`
become a values document typed as ``helm --set`` would type them
(`sidecar.config.rancher`). `publishCatalogConfig` runs the `catalog` tool: `helm
package` the chart at `path`, unpack it into `charts/<template>/<version>` of the Git
catalog (Rancher's layout), substitute ``${CICD_…}`` in its files as Rancher did, commit as
`gitAuthor`/`gitEmail` and push to `gitBranch`.
"""

from __future__ import annotations

from typing import Any

from sidecar.config.inputs import ProjectSettings, RenderContext
from sidecar.config.model import Stage, Step
from sidecar.config.rancher import resolve_template, typed_answer
from sidecar.errors import ConfigError
from sidecar.render.variables import cicd_variables, substitute

GIT_CREDENTIAL_PATH = "/var/run/secrets/git"


def app_source(stage: Stage, step: Step, settings: ProjectSettings) -> tuple[str, str]:
    """(chart, repository) of an applyAppConfig step: its own, or its catalog template's."""
    options = step.options
    if "catalogTemplate" not in options:
        return options["chart"], options["repo"]
    try:
        return resolve_template(options["catalogTemplate"], settings.catalogs)
    except KeyError as exc:
        raise ConfigError(f"stage {stage.name!r}: applyAppConfig.catalogTemplate: "
                          f"{exc.args[0]}") from None


def answers(step: Step, variables: dict[str, str]) -> dict[str, Any]:
    """Rancher answers, ${CICD_…} substituted, typed as helm --set types them."""
    return {key: typed_answer(substitute(value, variables))
            for key, value in step.options.get("answers", {}).items()}


def publish(stage: Stage, step: Step, context: RenderContext,
            settings: ProjectSettings) -> tuple[str, dict[str, str], list[tuple[dict, str]]]:
    """The catalog tool's environment and the Git credential's volume."""
    options = step.options
    # Rancher's CICD_GIT_TAG (tag events only); its docs publish `version: ${CICD_GIT_TAG}`.
    variables = {**cicd_variables(context),
                 "CICD_GIT_TAG": context.branch if context.event == "tag" else ""}
    env = {
        "CATALOG_PATH": substitute(options["path"], variables),
        "CATALOG_TEMPLATE": options["catalogTemplate"],
        "CATALOG_VERSION": substitute(options["version"], variables),
        "GIT_URL": options["gitUrl"], "GIT_BRANCH": options["gitBranch"],
        "GIT_AUTHOR": options["gitAuthor"], "GIT_EMAIL": options["gitEmail"],
        "CICD_GIT_TAG": variables["CICD_GIT_TAG"],  # for ${CICD_GIT_TAG} in the chart's files
    }
    secret = options.get("credentialSecret")
    if not secret:  # with one, only trusted runs get here (`withheld`)
        return "catalog", env, []
    volume = {"name": f"git-credential-{secret}"[:63].rstrip("-"),  # a DNS label
              "secret": {"secretName": secret, "defaultMode": 0o400}}
    return "catalog", env, [(volume, GIT_CREDENTIAL_PATH)]
