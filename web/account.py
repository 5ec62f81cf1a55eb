"""The signed-in person's own pages. For now the landing page: who is signed in, and until when."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from scheduler.model import as_local
from web.auth import current_viewer, sign_in_required

blueprint = Blueprint("account", __name__)


@blueprint.get("/account")
@sign_in_required
def home() -> ResponseReturnValue:
    """My account: who is signed in."""
    viewer = current_viewer()
    if viewer is None:  # pragma: no cover - sign_in_required sent every visitor without a session away
        return redirect(url_for("auth.sign_in"))
    return render_template("account.html", viewer=viewer,
                           expires=as_local(viewer.session_expires_at, viewer.timezone))
