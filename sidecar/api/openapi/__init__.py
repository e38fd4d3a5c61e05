"""The OpenAPI document at /openapi.json, merged from one YAML fragment per API area.

Each fragment (``*.yaml`` beside this file) holds ``paths`` and ``components`` of its
routes; they are merged once, at first request. Every status code a route can answer is
listed, so schemathesis (tests/test_openapi.py) can hold the routes to the document.
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
    return doc


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document of every route."""
    return jsonify(document())
