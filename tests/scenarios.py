"""Golden cases discovered from disk: ``case.yml`` with optional inputs and expected outputs.

Inputs beside ``case.yml``: ``case.context.yml``, ``case.settings.yml``, ``case.history.yml``.
Expected outputs: ``case.Jenkinsfile``, ``case.pod.yaml``, ``case.config.xml`` — or
``case.error`` for a config that must be rejected with exactly those lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CASES = Path(__file__).parent / "golden" / "cases"


@dataclass(frozen=True)
class Scenario:
    """One golden case and the files that belong to it."""

    name: str
    config: Path

    def sibling(self, suffix: str) -> Path:
        """The case's file with the given suffix (it may not exist)."""
        return self.config.with_name(self.name + suffix)

    def optional(self, suffix: str) -> Path | None:
        """The case's input file with that suffix, if the case has one."""
        path = self.sibling(suffix)
        return path if path.exists() else None

    @property
    def expects_error(self) -> bool:
        """True when the case is a config that must be rejected."""
        return self.sibling(".error").exists()


def scenario_list(directory: Path = CASES) -> list[Scenario]:
    """Every case in directory, sorted by name."""
    configs = [p for p in directory.glob("*.yml") if p.name.count(".") == 1]
    return [Scenario(p.stem, p) for p in sorted(configs)]
