"""Signing in with an API token and out again (see ``base`` for what the session keeps)."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for

from sidecar.services.access import Unauthenticated, digest_of
from sidecar.ui.base import SESSION_TOKEN, bp, local_target, sidecar

MAX_TOKEN = 1024


@bp.get("/signin")
def signin():
    """The sign-in form; with no token file there is nobody to sign in."""
    if sidecar().tokens is None:
        return redirect(url_for("ui.pipelines_list"))
    return render_template("ui/signin.html", next=local_target(request.args.get("next")))


@bp.post("/signin")
def signin_post():
    """Check the token against the API's token table; keep only its digest in the session."""
    tokens, target = sidecar().tokens, local_target(request.form.get("next"))
    if tokens is None:
        return redirect(target)
    token = request.form.get("token", "").strip()
    try:
        if len(token) > MAX_TOKEN:
            raise Unauthenticated("unknown token")
        found = tokens.principal(token)
    except Unauthenticated:
        found = None
    if found is None or not found.can_read:
        why = "This token is not known." if found is None else \
            "This token may only report node caches; it cannot read pipelines."
        return render_template("ui/signin.html", next=target, error=why), 401
    session.clear()  # a new session: nothing of the one before (e.g. its CSRF secret) stays
    session[SESSION_TOKEN] = digest_of(token)
    return redirect(target)


@bp.post("/signout")
def signout():
    """Forget the session."""
    session.clear()
    if sidecar().tokens is None:
        return redirect(url_for("ui.pipelines_list"))
    return redirect(url_for("ui.signin"))
