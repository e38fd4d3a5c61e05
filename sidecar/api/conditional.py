"""Conditional answers: what a finished run shows never changes (DESIGN §11).

A finished run's nodes, steps and logs carry an ``ETag`` of their bytes (and of the
log headers that say where to continue); a client that sends it back in
``If-None-Match`` gets a 304 without the body. The tag is a hash of what is sent, so
every worker and replica gives the same one, and an answer that did change after all
(a log archived after the run's end, a notification delivered since) gets a new tag
rather than a stale 304. Still-changing answers carry none: a client would only ever
hold a tag that no longer matches.
"""

from __future__ import annotations

import hashlib

from flask import Response, request

LOG_HEADERS = ("X-Text-Size", "X-More-Data")


def final(response: Response, done: bool) -> Response:
    """With done, the response tagged and turned into a 304 when the client has it."""
    if not done or response.status_code != 200:
        return response
    digest = hashlib.blake2b(response.get_data(), digest_size=16)
    for name in LOG_HEADERS:
        digest.update(f"\n{name}: {response.headers.get(name, '')}".encode())
    response.set_etag(digest.hexdigest())
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)
