"""Which Kubernetes Secrets a config may name: a per-project allow-list (DESIGN §10).

A config is written by whoever can push to its repository, and Secrets in the agent
namespace belong to every team there, and to the sidecar itself. So a config may name
only the Secrets its project's settings list (`secrets`), and never one of the
sidecar's own, even when an operator lists it by mistake. The sidecar never reads a
Secret's value: it only writes the name into the pod.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Iterator

from sidecar.config.loader import ConfigPath, Located, format_path
from sidecar.errors import Problem

# The deploy/ manifests' Secrets of the sidecar and its Jenkins, and any name of that family.
RESERVED = ("jenkins-sidecar-*", "jenkins-controller-*")


def reserved(name: str) -> bool:
    """True for a Secret of the sidecar's own (tokens, webhook and notifier secrets, keys)."""
    return any(fnmatchcase(name, pattern) for pattern in RESERVED)


def references(located: Located) -> Iterator[tuple[str, ConfigPath]]:
    """Every Secret a validated config names, with its config path."""
    data = located.data if isinstance(located.data, dict) else {}
    for s, stage in enumerate(data.get("stages") or []):
        for i, step in enumerate((stage or {}).get("steps") or []):
            path: ConfigPath = ("stages", s, "steps", i)
            for e, item in enumerate(step.get("envFrom") or []):
                yield item.get("sourceName"), path + ("envFrom", e, "sourceName")
            for kind, options in step.items():  # publishImageConfig, publishCatalogConfig
                if isinstance(options, dict) and options.get("credentialSecret"):
                    yield options["credentialSecret"], path + (kind, "credentialSecret")


def problems(located: Located, allowed: tuple[str, ...]) -> list[Problem]:
    """A problem, at its position, for each Secret the config may not name."""
    found = []
    for name, path in references(located):
        if reserved(name):
            message = f"Secret {name!r} belongs to jenkins-sidecar and can never be used"
        elif name not in allowed:
            listed = ", ".join(allowed) if allowed else "none"
            message = (f"Secret {name!r} is not in the project's allowed secrets "
                       f"(settings 'secrets': {listed})")
        else:
            continue
        found.append(Problem(message, located.pos(path), format_path(path)))
    return found
