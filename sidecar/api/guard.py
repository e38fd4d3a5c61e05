"""Hostile input at the door: body size, strict JSON, odd URLs (DESIGN §10).

- Bodies: the setting ``max_content_length`` is enforced while the body is read. A
  declared length above it is refused before reading; a chunked body is read through
  Werkzeug's limited stream up to one byte more than the limit, and that byte makes it
  a 413 (Werkzeug alone would cut such a body short silently). So a 50 MiB upload is
  never buffered whole.
- JSON bodies go through ``sidecar.services.bounded.loads`` (depth, NUL, lone
  surrogates, control characters in names, NaN): a 400 naming the problem.
- Paths and query strings with control characters (CR/LF end up in ``Link`` headers,
  NUL is refused by PostgreSQL) or non-ASCII digits (``int`` reads ``"١٢"`` as 12) are
  refused before any route sees them; ``<int:…>`` takes ASCII digits only.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from sidecar.errors import ConfigError, Problem
from sidecar.services import bounded

bp = Blueprint("guard", __name__)
LIMIT = "SIDECAR_MAX_BODY"


class BoundedRequest(Request):
    """A request whose body, declared or chunked, is never longer than the limit."""

    def get_data(self, cache: bool = True, as_text: bool = False,
                 parse_form_data: bool = False):
        """The body, as Werkzeug reads it. :raise RequestEntityTooLarge: beyond the limit"""
        data = super().get_data(cache=cache, parse_form_data=parse_form_data)
        if len(data) > current_app.config[LIMIT]:
            raise RequestEntityTooLarge()
        return data.decode(errors="replace") if as_text else data


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies with the strict loader."""

    def loads(self, s, **kwargs):
        """Parse a request body. :raise ConfigError:"""
        return bounded.loads(s)


class AsciiIntegerConverter(IntegerConverter):
    """``<int:…>`` of ASCII digits only (Werkzeug's ``\\d`` takes any script's digits)."""

    regex = r"[0-9]{1,18}"


@bp.before_app_request
def _refuse_odd_urls() -> None:
    values = [request.path, *request.args.keys(),
              *(v for _, v in request.args.items(multi=True))]
    if any(bounded.control_character(v) for v in values):
        raise ConfigError(Problem("the URL must not contain control characters"))
    if any(not v.isascii() and any(c.isdigit() and not c.isascii() for c in v) for v in values):
        raise ConfigError(Problem("numbers in the URL must be ASCII digits"))


def install(app: Flask, max_content_length: int) -> None:
    """Apply the limits to an app (before its routes are added)."""
    app.config[LIMIT] = max_content_length
    app.config["MAX_CONTENT_LENGTH"] = max_content_length + 1
    app.request_class = BoundedRequest
    app.json = StrictJSONProvider(app)
    app.url_map.converters["int"] = AsciiIntegerConverter
    app.register_blueprint(bp)
