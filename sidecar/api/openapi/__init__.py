"""The OpenAPI document at /openapi.json, merged from one YAML fragment per API area.

Each fragment (``*.yaml`` beside this file) holds ``paths`` and ``components`` of its
routes; they are merged once, at first request. Every status code a route can answer is
listed, so schemathesis (tests/test_openapi.py) can hold the routes to the document.
The answers every route shares are added here rather than in each fragment: 400 (a URL
with control characters or non-ASCII digits), 413 (a body over the limit) where a
body is taken, and for token-protected routes 401, 403 (level, project access or
anonymous-mode refusals) and 404 where the path names an object.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)
FRAGMENTS = Path(__file__).parent


@lru_cache(maxsize=1)
def document() -> dict:
    """The whole OpenAPI document."""
    doc: dict = {"openapi": "3.1.0",
                 "info": {"title": "jenkins-sidecar", "version": "0.1.0"},
                 "paths": {}, "components": {"schemas": {}, "securitySchemes": {},
                                             "responses": {}, "parameters": {}}}
    for path in sorted(FRAGMENTS.glob("*.yaml")):
        fragment = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for route, item in (fragment.get("paths") or {}).items():
            doc["paths"].setdefault(route, {}).update(item)  # fragments may share a path
        for kind, items in (fragment.get("components") or {}).items():
            doc["components"].setdefault(kind, {}).update(items or {})
        if "security" in fragment:
            doc["security"] = fragment["security"]
    _add_shared_answers(doc)
    return doc


def _add_shared_answers(doc: dict) -> None:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            shared = {"400": "BadRequest"}
            if method in ("post", "put"):
                shared["413"] = "TooLarge"
            if operation.get("security", doc.get("security")) != []:
                shared.update({"401": "Unauthorized", "403": "Forbidden"})
                if "{" in path:
                    shared["404"] = "NotFound"
            responses = operation.setdefault("responses", {})
            for status, name in shared.items():
                responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document of every route."""
    return jsonify(document())
