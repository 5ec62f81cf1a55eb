"""Public pages: what Coffee Chat is here, its programs and how the latest cycles went (no personal data)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from scheduler.planning.run import program_overview
from web.services import services_of

blueprint = Blueprint("public", __name__)


@blueprint.get("/")
def index() -> ResponseReturnValue:
    """The home page."""
    services = services_of(current_app)
    overviews = program_overview(services.uow_factory, services.programs())
    return render_template("index.html", organisation=services.config.organisation, overviews=overviews)


@blueprint.get("/healthz")
def health() -> ResponseReturnValue:
    """Liveness and database check for load balancers."""
    services = services_of(current_app)
    with services.uow_factory() as uow:
        uow.programs.list()
    return jsonify(status="ok")
