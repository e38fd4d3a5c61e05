"""The sidecar's own error types.

Config errors carry where they happened (``file:line:col``) and which part of the
config they concern (``stages[1].steps[0].runScriptConfig.image``). Several problems
travel together in one exception so that a user sees every mistake in one run; they
are rendered to text exactly once, at the edge (CLI or HTTP layer).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pos:
    """A position in a source file, 1-based like editors show it."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: what, where in the file, where in the config."""

    message: str
    pos: Pos | None = None
    config_path: str = ""

    def line(self) -> str:
        """Render as the single ``FILE:LINE:COL: path: message`` line users see."""
        prefix = f"{self.pos}: " if self.pos else ""
        where = f"{self.config_path}: " if self.config_path else ""
        return f"{prefix}{where}{self.message}"


class SidecarError(Exception):
    """Root of every error the sidecar raises on purpose."""


class ConfigError(SidecarError):
    """A config, context, history or settings file is not valid; holds every problem found."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = Problem(problems)
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = sorted(problems, key=_problem_order)
        super().__init__("\n".join(self.lines))

    @property
    def lines(self) -> list[str]:
        """One line per problem, in file order."""
        return [problem.line() for problem in self.problems]


class RenderError(SidecarError):
    """A valid config cannot be rendered for the given execution context."""


def _problem_order(problem: Problem) -> tuple:
    pos = problem.pos
    return (pos.file, pos.line, pos.column, problem.message) if pos else ("", 0, 0, problem.message)
