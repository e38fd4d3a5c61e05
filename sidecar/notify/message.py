"""A notification's text: the config's ``message`` as a sandboxed Jinja2 template.

The template is written by whoever writes the pipeline config, and it runs inside the
engine process, so it is bounded on every side a template can grow: its own size, the
size of what it writes, the size of any value an operator (``*``, ``**``, ``+``) or a
method call builds, the length of ``range``, and the time it may take (a line tracer
stops loops that write nothing). Filters that pad or repeat text by a number
(``center``, ``indent``, ``wordwrap``, ``format``) are not offered. Any failure gives
the default message and says why; it never fails the run or the delivery.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Mapping

from jinja2 import TemplateError, Undefined
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import SandboxedEnvironment

MAX_TEMPLATE = 4096
MAX_OUTPUT = 4096
MAX_VALUE = 16384
MAX_RANGE = 1000
MAX_SECONDS = 0.5
DEFAULT = ("{{ pipeline }} #{{ run }}: {{ state }} ({{ condition }}) on {{ branch }}"
           "{% if commit %} at {{ commit[:12] }}{% endif %}"
           "{% if triggeredBy %}, triggered by {{ triggeredBy }}{% endif %}"
           "{% if duration is not none %}, {{ duration }} s{% endif %}"
           "{% if url %} {{ url }}{% endif %}")
_UNSAFE_FILTERS = ("center", "indent", "wordwrap", "format", "filesizeformat", "pprint",
                   "xmlattr", "tojson")


class TemplateTooCostly(TemplateError):
    """The template went over one of its bounds."""


class _BoundedGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a join that checks its size, like the operators."""

    def visit_Concat(self, node, frame) -> None:  # noqa: N802 (Jinja's visitor name)
        """Write the concatenation as a call of the environment's bounded join."""
        self.write("environment.bounded_join((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class _BoundedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset(("*", "**", "+"))
    code_generator_class = _BoundedGenerator

    @staticmethod
    def bounded_join(values: tuple) -> str:
        """``~`` of the values, as long as the result stays small."""
        return _checked("".join(map(str, values)))

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        """Arithmetic as usual, as long as the result stays small."""
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise TemplateTooCostly("an exponent above 64")
        if operator == "*" and isinstance(left, int) and isinstance(right, (str, list)):
            left, right = right, left
        if operator == "*" and isinstance(left, (str, list)) and isinstance(right, int) \
                and len(left) * right > MAX_VALUE:
            raise TemplateTooCostly(f"a value above {MAX_VALUE} characters")
        return _checked(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A sandboxed call whose numeric arguments and result stay small."""
        if any(isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_VALUE
               for a in (*args, *kwargs.values())):
            raise TemplateTooCostly(f"a number above {MAX_VALUE} in a call")
        return _checked(super().call(__context, __obj, *args, **kwargs))


def _checked(value: Any) -> Any:
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_VALUE:
        raise TemplateTooCostly(f"a value above {MAX_VALUE} characters")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        raise TemplateTooCostly("a number above 2**256")
    return value


def _bounded_range(*args: int) -> range:
    found = range(*args)
    if len(found) > MAX_RANGE:
        raise TemplateTooCostly(f"a range above {MAX_RANGE} items")
    return found


def _environment() -> SandboxedEnvironment:
    environment = _BoundedEnvironment(undefined=Undefined, autoescape=False)
    for name in _UNSAFE_FILTERS:
        environment.filters.pop(name, None)
    environment.globals = {"range": _bounded_range}
    return environment


_ENVIRONMENT = _environment()


def render(template: str, fields: Mapping[str, Any]) -> tuple[str, str]:
    """(text, error): the rendered template, or the default message and why not."""
    if template:
        try:
            return _render(template, fields), ""
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError,
                AttributeError, RecursionError, MemoryError) as exc:
            error = f"message template: {type(exc).__name__}: {str(exc)[:200]}"
        return _render(DEFAULT, fields), error
    return _render(DEFAULT, fields), ""


def _render(template: str, fields: Mapping[str, Any]) -> str:
    if len(template) > MAX_TEMPLATE:
        raise TemplateTooCostly(f"the template is longer than {MAX_TEMPLATE} characters")
    compiled = _ENVIRONMENT.from_string(template)
    parts, size = [], 0
    with _Deadline(MAX_SECONDS):
        for piece in compiled.generate(**fields):
            parts.append(piece)
            size += len(piece)
            if size >= MAX_OUTPUT:
                break
    return "".join(parts)[:MAX_OUTPUT]


class _Deadline:
    """Stops the template's Python frames once the time is up (a line tracer)."""

    def __init__(self, seconds: float):
        self._seconds = seconds
        self._until = 0.0
        self._previous = None

    def __enter__(self) -> _Deadline:
        self._until = time.monotonic() + self._seconds
        self._previous = sys.gettrace()
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(self._previous)

    def _trace(self, frame, event: str, arg: Any):
        if time.monotonic() > self._until:
            raise TemplateTooCostly(f"the template ran longer than {self._seconds} s")
        return self._trace
