"""The one way a string becomes Groovy source: a single-quoted literal, escaped.

Single-quoted Groovy strings never interpolate, so ``${...}`` and ``$/`` stay text.
What remains is escaping: backslash and quote get a backslash; line breaks and other
control characters use escape sequences; every non-ASCII character is written as
``\\uXXXX`` (UTF-16 units) so the Jenkinsfile is plain ASCII and no encoding setting
can alter it. Groovy translates ``\\uXXXX`` before it tokenises (as Java does), so the
escapes it would turn into a quote, a backslash or a line break are never emitted;
a user's own text ``\\u0027`` gets its backslash doubled and stays text.

U+FFFF has no escape Groovy 2.4 accepts: its reader returns that char as ``(char) -1``,
the lexer's end of input, so ``'\\uffff'`` ends the script mid-literal. Such a character is
written as the expression ``((char) 0xffff)`` between literals, concatenated at run time.

Multi-line values use the triple-quoted form with real line breaks, which keeps
scripts readable in the Jenkinsfile; the escaping is identical otherwise. A class file
holds at most 65535 bytes per string constant, so long values (big pod templates)
become a parenthesised concatenation of shorter literals.
"""

from __future__ import annotations

import re

from markupsafe import Markup

# Code points per literal: even at 6 modified-UTF-8 bytes per astral character
# (a surrogate pair), one chunk stays below the 65535-byte constant limit.
CHUNK = 10000
_NAMED = {"\\": "\\\\", "'": "\\'", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\r": "\\r",
          "\n": "\\n"}
# Groovy 2.4's lexer takes char 0xFFFF for the end of input (see the module docstring).
EOF_CHAR = "\uffff"
_EOF_EXPRESSION = "((char) 0xffff)"
# Everything but printable ASCII other than quote and backslash needs an escape;
# in the triple-quoted form a line break may stay as it is.
_NEEDS_ESCAPE = re.compile(r"[^ -&(-\[\]-~]")
_NEEDS_ESCAPE_MULTILINE = re.compile(r"[^ -&(-\[\]-~\n]")


class GroovyLiteral(Markup):
    """Text that is already safe Groovy source (a quoted literal, a number, indentation).

    It subclasses Markup so that the Jenkinsfile template environment, which refuses
    every plain string, lets it through unchanged.
    """


def groovy_string(value: str) -> GroovyLiteral:
    """Quote any text as a Groovy string literal that evaluates to exactly that text."""
    if not isinstance(value, str):
        raise TypeError(f"only text can be quoted for Groovy, not {type(value).__name__}")
    parts = _parts(value)
    if len(parts) == 1:
        return GroovyLiteral(parts[0])
    return GroovyLiteral("(" + " + ".join(parts) + ")")


def literal_parts(value: str) -> list[str]:
    """The Groovy operands whose concatenation is value: literals of at most CHUNK code points."""
    return _parts(value)


def _parts(value: str) -> list[str]:
    pieces = value.split(EOF_CHAR)
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if index:
            parts.append(_EOF_EXPRESSION)
        parts.extend(_literal(piece[i:i + CHUNK]) for i in range(0, len(piece), CHUNK))
    if not parts:
        return [_literal("")]
    if parts[0] == _EOF_EXPRESSION:
        parts.insert(0, "''")  # a String first, so '+' concatenates instead of adding chars
    return parts


def _literal(value: str) -> str:
    if "\n" in value:
        return "'''" + _NEEDS_ESCAPE_MULTILINE.sub(_escape, value) + "'''"
    return "'" + _NEEDS_ESCAPE.sub(_escape, value) + "'"


def _escape(match: re.Match) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
