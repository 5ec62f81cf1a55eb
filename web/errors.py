"""Error pages: HTML for browsers, JSON for clients that ask for it."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException


def init_app(app: Flask) -> None:
    """Answer every HTTP error in the client's preferred format."""

    @app.errorhandler(HTTPException)
    def handle(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        # Keep the headers the error brings (Allow on a 405, Retry-After, WWW-Authenticate); the body is ours.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=error.name, message=error.description), status, headers
        return render_template("error.html", error=error), status, headers
