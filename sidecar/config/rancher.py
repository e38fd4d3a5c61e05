"""Rancher's catalog steps: `applyAppConfig` in Rancher's fields and `publishCatalogConfig`.

Rancher 2.x (`pkg/apis/project.cattle.io/v3/pipeline_types.go`, rancher/pipeline-tools
`bin/apply-app` and `bin/publish-catalog`) deployed a catalog app through its own API and
published charts to a Git catalog. The sidecar has no Rancher API: a catalog template id
resolves through the project's `catalogs` setting (catalog name → Helm repository URL) to
``helm upgrade --install <name> <template> --repo <url> --version <version> -n <targetNamespace>``
with Rancher's `answers` as a values document. Answers are typed as Rancher's ``helm --set``
typed them (``"false"`` is false, ``"3"`` is 3), but no answer is parsed by ``--set`` itself.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from sidecar.config.loader import ConfigPath

GLOBAL_PREFIX = "cattle-global-data:"
# <catalog>-<template>, optionally in Rancher's global namespace (docs: "Deploy Catalog App").
CATALOG_TEMPLATE = (r"^(cattle-global-data:)?[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                    r"-[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# A chart directory name in a Git catalog (charts/<template>/<version>).
TEMPLATE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

# Rancher field -> the sidecar's own field it stands for; a step uses one of each pair.
APP_ALIASES = {"catalogTemplate": "chart", "name": "releaseName",
               "targetNamespace": "namespace", "answers": "set"}


def check_app(options: dict, path: ConfigPath, report: Callable[..., None]) -> None:
    """applyAppConfig: Rancher's fields or the sidecar's, one of each pair; chart and name given."""
    for rancher, own in APP_ALIASES.items():
        if rancher in options and own in options:
            report(f"'{rancher}' (Rancher) and '{own}' mean the same; use one",
                   path + (rancher,), key=True)
    if "catalogTemplate" in options and "repo" in options:
        report("'catalogTemplate' takes its repository from the project's catalogs; "
               "drop 'repo'", path + ("repo",), key=True)
    if "chart" not in options and "catalogTemplate" not in options:
        report("applyAppConfig needs 'chart' or Rancher's 'catalogTemplate'", path, key=True)
    if "releaseName" not in options and "name" not in options:
        report("applyAppConfig needs 'releaseName' or Rancher's 'name'", path, key=True)
    for key in options.get("answers", {}):
        if "[" in key:
            report(f"answer {key!r}: list indices are not supported; use a values file",
                   path + ("answers", key), key=True)


def app_options(options: dict) -> dict:
    """applyAppConfig options in the sidecar's terms: name, targetNamespace become its own."""
    merged = dict(options)
    for rancher_key, own in (("name", "releaseName"), ("targetNamespace", "namespace")):
        if rancher_key in merged:
            merged[own] = merged.pop(rancher_key)
    return merged


def resolve_template(template_id: str, catalogs: dict[str, str]) -> tuple[str, str]:
    """(chart, repository URL) of a catalog template id; KeyError with the reason if unknown.

    Catalog and template names may both contain '-': the longest catalog name that is a
    prefix of the id followed by '-' wins.
    """
    bare = template_id[len(GLOBAL_PREFIX):] if template_id.startswith(GLOBAL_PREFIX) \
        else template_id
    matches = [name for name in catalogs
               if bare.startswith(name + "-") and len(bare) > len(name) + 1]
    if not matches:
        known = ", ".join(sorted(catalogs)) or "none"
        raise KeyError(f"no catalog of the project's 'catalogs' setting matches "
                       f"{template_id!r} (known: {known}); add the catalog as "
                       f"catalogs: {{<name>: <Helm repository URL>}}")
    catalog = max(matches, key=len)
    return bare[len(catalog) + 1:], catalogs[catalog]


def typed_answer(value: str) -> Any:
    """An answer as helm's ``--set`` types it (strvals.typedVal): bool, null, int64 or text."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if value == "0":
        return 0
    if value[:1] not in ("", "0") and re.fullmatch(r"[+-]?[0-9]+", value) \
            and -2**63 <= int(value) < 2**63:
        return int(value)
    return value
