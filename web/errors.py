"""Error pages: HTML for browsers, JSON for clients that ask for it."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from scheduler.errors import StorageError

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Answer every HTTP error in the client's preferred format; a database that cannot be reached is a 503."""

    @app.errorhandler(StorageError)
    def unavailable(error: StorageError) -> ResponseReturnValue:
        # The message names the database (password masked): for the log, not for the visitor.
        log.error("database unavailable: %s", error)
        return handle(ServiceUnavailable("The site cannot reach its database just now. Please try again in a few "
                                         "minutes.", retry_after=30))

    @app.errorhandler(HTTPException)
    def handle(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        # Keep the headers the error brings (Allow on a 405, Retry-After, WWW-Authenticate); the body is ours.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=error.name, message=error.description), status, headers
        return render_template("error.html", error=error), status, headers
