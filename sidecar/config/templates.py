"""Find and read the template directories once, so rendering itself needs no I/O.

`jenkinsfile_templates/` and `podtemplates/` are data that users may replace with
their own copies. They are looked for in: an explicit directory (setting or CLI
option), the source checkout next to the package, and the installed data directory
(``<prefix>/share/jenkins-sidecar``). A missing directory or file is a clear error.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sidecar.errors import ConfigError, Problem

JENKINSFILE_FILES = ("Jenkinsfile.j2", "config.xml.j2")
POD_FILES = ("base.yaml", "tools.yaml")


@dataclass(frozen=True)
class TemplateSet:
    """The texts and base pod documents every render starts from."""

    jenkinsfile: str
    job_xml: str
    base_pod: dict[str, Any]
    tools: dict[str, dict[str, Any]]


def locate(name: str, explicit: str | Path | None = None) -> Path:
    """Directory holding the templates called name; explicit wins and must exist."""
    if explicit:
        path = Path(explicit)
        if not path.is_dir():
            raise ConfigError(Problem(f"{name} directory not found: {path}"))
        return path
    candidates = [Path(__file__).resolve().parents[2] / name,
                  Path(sys.prefix) / "share" / "jenkins-sidecar" / name]
    for path in candidates:
        if path.is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise ConfigError(Problem(f"{name} directory not found (looked in {tried}); "
                              f"set its location explicitly"))


def load_templates(jenkinsfile_dir: str | Path | None = None,
                   podtemplates_dir: str | Path | None = None) -> TemplateSet:
    """Read both template directories into memory."""
    jenkinsfile_root = locate("jenkinsfile_templates", jenkinsfile_dir)
    pod_root = locate("podtemplates", podtemplates_dir)
    texts = {name: _read(jenkinsfile_root / name) for name in JENKINSFILE_FILES}
    pods = {name: _read_yaml(pod_root / name) for name in POD_FILES}
    return TemplateSet(texts["Jenkinsfile.j2"], texts["config.xml.j2"],
                       pods["base.yaml"], pods["tools.yaml"])


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(Problem(f"cannot read template {path}: {exc.strerror}")) from None


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(_read(path))
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(f"template {path} is not valid YAML: {exc}")) from None
    if not isinstance(data, dict):
        raise ConfigError(Problem(f"template {path} must hold a YAML mapping"))
    return data
