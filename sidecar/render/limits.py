"""Keep a rendered Jenkinsfile inside the JVM limits Jenkins compiles it under.

Jenkins compiles the Jenkinsfile to JVM classes, and two class-file limits apply:

- a method's bytecode is at most 65535 bytes (JVM spec §4.7.3, ``code_length``): Jenkins
  fails the build with "Method code too large" / ``MethodTooLargeException``
  (JENKINS-37984). Declarative's ``RuntimeASTTransformer``
  (pipeline-model-definition) emits the whole ``pipeline {}`` model as one generated
  method unless ``SCRIPT_SPLITTING_TRANSFORMATION`` is on (jenkinsci/
  pipeline-model-definition-plugin #405), and the CPS transformation (workflow-cps,
  ``CpsTransformer``) turns every expression into a call of its ``Builder`` carrying the
  source position, so that method is several times larger than plain Groovy's;
- a string constant is at most 65535 bytes of modified UTF-8 (JVM spec §4.4.7,
  ``CONSTANT_Utf8_info.length`` is a u2; ASM refuses longer ones).

Plain Groovy 2.4, as the tests run it, compiles each closure into its own method and so
accepts what Jenkins refuses; the limit cannot be measured here, only estimated. The
renderer therefore (1) writes no literal above `groovy.CHUNK` code points (at most 60000
bytes), (2) moves every long text (scripts) out of the pipeline block into a helper
method of its own (``def text1() { return (…) }``), and (3) estimates each method's
bytecode from its syntax nodes (calls, literals, operators) at `BYTES_PER_NODE`, and
refuses a config whose estimate passes the limit, naming the stage where it does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sidecar.errors import ConfigError, Problem, RenderError


class SizeError(ConfigError):
    """A config that cannot fit the JVM limits Jenkins compiles its Jenkinsfile under."""

METHOD_CODE_LIMIT = 65535
"""Bytes of bytecode per JVM method (JVM spec §4.7.3; Jenkins: JENKINS-37984)."""
STRING_CONSTANT_LIMIT = 65535
"""Bytes of modified UTF-8 per JVM string constant (JVM spec §4.4.7)."""
BYTES_PER_NODE = 64
"""Estimated bytecode per syntax node once CPS-transformed inside declarative's model
method. Plain Groovy 2.4 compiles the sidecar's golden Jenkinsfiles to 12-17 bytes per
node (tests/test_limits.py); CPS makes every node a Builder call with its source
position, and declarative adds the model's own construction, so about four times that
is assumed. An assumption, not a measurement of Jenkins (README, Size limits)."""
NODE_BUDGET = METHOD_CODE_LIMIT // BYTES_PER_NODE
"""Syntax nodes a single method may hold."""
PARTS_PER_METHOD = 300
"""Literals (or sub-helper calls) one text helper concatenates: 2 nodes each, in budget."""
TEXT_INLINE = 4000
"""Characters up to which a script stays inline; longer ones go to a helper method."""

_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*)
  | (?P<string>'''(?:\\.|[^\\])*?'''|'(?:\\.|[^\\'\n])*')
  | (?P<call>[A-Za-z_$][\w$]*\s*[({])
  | (?P<number>\b\d+\b)
  | (?P<word>[A-Za-z_$][\w$]*)
  | (?P<operator>[+\[])
""", re.VERBOSE | re.DOTALL)
_METHOD_START = re.compile(r"^(pipeline \{|def (\w+)\(\) \{)$", re.MULTILINE)


@dataclass(frozen=True)
class Method:
    """One top-level method of a Jenkinsfile: the pipeline block or a helper."""

    name: str
    start: int
    end: int


def nodes(text: str) -> int:
    """Syntax nodes of Groovy source: calls, literals, names and operators (comments skipped)."""
    return sum(1 for match in _TOKEN.finditer(text) if match.lastgroup != "comment")


def methods(jenkinsfile: str) -> list[Method]:
    """The top-level methods: each starts at column 0 and ends at the next '}' there."""
    found = []
    for match in _METHOD_START.finditer(jenkinsfile):
        end = jenkinsfile.find("\n}", match.end())
        end = len(jenkinsfile) if end < 0 else end + 2
        found.append(Method(match.group(2) or "pipeline", match.start(), end))
    return found


def check(jenkinsfile: str, stage_literals: list[tuple[str, str]], *,
          split: bool = False) -> None:
    """Refuse a Jenkinsfile a method of which would pass the JVM limit in Jenkins.

    stage_literals: (stage name, its Groovy literal) of the config's stages in order, to
    name the stage where the limit is passed. split: the controller splits the
    declarative script (SCRIPT_SPLITTING_TRANSFORMATION), so each stage is a method.
    """
    for method in methods(jenkinsfile):
        body = jenkinsfile[method.start:method.end]
        count = nodes(body)
        if count <= NODE_BUDGET:
            continue
        if method.name != "pipeline":  # helpers are cut to fit; this is a bug, not input
            raise RenderError(f"helper {method.name}() has {count} syntax nodes, over "
                              f"the budget of {NODE_BUDGET}")
        problem = _pipeline_problem(body, stage_literals, split)
        if problem:
            raise SizeError(problem)


def _pipeline_problem(body: str, stage_literals: list[tuple[str, str]],
                      split: bool) -> Problem | None:
    """Name the stage at which the pipeline block (or, split, one stage) passes the budget."""
    starts, position = [], 0
    for _, literal in stage_literals:
        start = body.find(f"stage({literal})", position)
        starts.append(start if start >= 0 else position)
        position = max(position, start + 1)
    total = 0 if split or not starts else nodes(body[:starts[0]])
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(body)
        own = nodes(body[start:end])
        total = own if split else total + own
        if total > NODE_BUDGET:
            return _problem(stage_literals, index, split)
    return None if split else _problem(stage_literals, len(starts) - 1, split)


def _problem(stage_literals: list[tuple[str, str]], index: int, split: bool) -> Problem:
    name = stage_literals[index][0]
    what = ("this stage into one method" if split else "the whole pipeline block into one method")
    where = ("" if split else f" and passes that in this stage, {index + 1} of "
             f"{len(stage_literals)}")
    advice = ("Split the stage's steps over several stages" if split else
              "Split the pipeline into several, merge steps, or set the project's "
              "scriptSplitting when Jenkins splits declarative scripts")
    return Problem(
        f"stage {name!r} does not fit: Jenkins compiles {what} of at most "
        f"{METHOD_CODE_LIMIT} bytes of bytecode (\"Method code too large\", JENKINS-37984); "
        f"at an estimated {BYTES_PER_NODE} bytes per call or value it holds {NODE_BUDGET} "
        f"of them{where}. {advice}", config_path=f"stages[{index}]")


def text_helpers(texts: dict[str, str], literal_parts) -> str:
    """Helper methods returning each long text, split so that no method passes the budget.

    texts: text -> helper name. A helper concatenates at most `PARTS_PER_METHOD` literals;
    a longer text's helper concatenates the calls of numbered sub-helpers instead.
    """
    out = []
    for text, name in texts.items():
        parts = literal_parts(text)
        if len(parts) <= PARTS_PER_METHOD:
            out.append(_helper(name, parts))
            continue
        subs = []
        for number, first in enumerate(range(0, len(parts), PARTS_PER_METHOD), 1):
            subs.append(f"{name}_{number}()")
            out.append(_helper(f"{name}_{number}", parts[first:first + PARTS_PER_METHOD]))
        out.append(_helper(name, subs))
    return "".join(out)


def _helper(name: str, operands: list[str]) -> str:
    if not operands[0].startswith(("'", "text")):
        operands = ["''", *operands]  # a String first, so '+' concatenates (U+FFFF parts)
    return f"\ndef {name}() {{\n  return (" + " +\n    ".join(operands) + ")\n}\n"
