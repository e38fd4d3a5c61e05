"""Blue Ocean's capability look-up: ``POST /blue/rest/classes/`` and ``GET …/classes/{c}/``."""

from __future__ import annotations

from flask import jsonify, request

from sidecar.api.blueocean.common import blueprint, route
from sidecar.api.context import json_body
from sidecar.errors import ConfigError, Problem
from sidecar.readmodel import classes

bp = blueprint("blueocean_classes")


@route(bp, "/blue/rest/classes", methods=("POST",))
def look_up():
    """``{"q":[class,…]}`` → the classes each one is (unknown ones: none)."""
    wanted = json_body().get("q")
    if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
        raise ConfigError(Problem("q must be a list of class names", config_path="q"))
    return jsonify(classes.classes_document(wanted))


@route(bp, "/blue/rest/classes")
def look_up_by_query():
    """``?q=class,class`` → the same map as the POST."""
    wanted = [c for c in request.args.get("q", "").split(",") if c]
    return jsonify(classes.classes_document(wanted))


@route(bp, "/blue/rest/classes/<name>")
def get_class(name: str):
    """One class and what it is (an unknown class: nothing, as in Blue Ocean)."""
    return jsonify(classes.class_document(name))
