"""The Jinja2 environment for Jenkinsfiles: nothing reaches Groovy unquoted.

Every ``{{ … }}`` in the Jenkinsfile template must produce a `GroovyLiteral` (the
``groovy`` filter), an integer, or a macro's output; a plain string is refused with an
error instead of being pasted into the script. This makes "a user string never
becomes Groovy code" a property of the environment rather than of template care.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from sidecar.errors import RenderError
from sidecar.render import limits
from sidecar.render.groovy import GroovyLiteral, groovy_string, literal_parts


def _guard(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, Markup)):
        raise RenderError(f"Jenkinsfile template printed an unquoted {type(value).__name__}: "
                          "pass it through the groovy filter")
    return value


def _groovy(value: Any) -> GroovyLiteral:
    return groovy_string(value)


@jinja2.pass_context
def _groovy_text(context: Any, value: str) -> GroovyLiteral:
    """A script: inline when short, else a call of a helper method holding it (limits.py)."""
    if len(value) <= limits.TEXT_INLINE:
        return groovy_string(value)
    texts = context["texts"]
    name = texts.setdefault(value, f"text{len(texts) + 1}")
    return GroovyLiteral(f"{name}()")


def _groovy_list(values: Any) -> GroovyLiteral:
    return GroovyLiteral("[" + ", ".join(groovy_string(v) for v in values) + "]")


def _groovy_bool(value: bool) -> GroovyLiteral:
    return GroovyLiteral("true" if value else "false")


def _indent(width: int) -> GroovyLiteral:
    return GroovyLiteral(" " * width)


def jenkinsfile_environment() -> jinja2.Environment:
    """A template environment that quotes for Groovy and refuses raw strings."""
    env = jinja2.Environment(
        autoescape=True, finalize=_guard, undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["groovy"] = _groovy
    env.filters["groovy_list"] = _groovy_list
    env.filters["groovy_text"] = _groovy_text
    env.filters["groovy_bool"] = _groovy_bool
    env.globals["sp"] = _indent
    return env


@lru_cache(maxsize=8)
def _compiled(template_text: str) -> jinja2.Template:
    # Compiling costs more than rendering; template texts rarely change in a process.
    return jenkinsfile_environment().from_string(template_text)


def render_jenkinsfile(template_text: str, **values: Any) -> str:
    """Render the Jenkinsfile template with the prepared view of a run.

    Long scripts become helper methods after the pipeline block (see limits.py).
    """
    texts: dict[str, str] = {}
    try:
        text = str(_compiled(template_text).render(**values, texts=texts))
    except jinja2.TemplateError as exc:
        raise RenderError(f"Jenkinsfile template error: {exc}") from exc
    if not texts:
        return text
    return (text + "\n// Long scripts, each in a method of its own: Jenkins compiles the "
            "pipeline block\n// into one method, of at most 64 KB of bytecode.\n"
            + limits.text_helpers(texts, literal_parts))
