"""Where the blueprints find the services wired for their app: the one thing they need from the app factory.

``web/__init__`` (the factory) stores the services on the app with ``install``; the blueprints read them with
``services_of``. Keeping both here lets the factory import the blueprints without their importing it back.
"""

from __future__ import annotations

from flask import Flask

from scheduler.entrypoints.bootstrap import Services

EXTENSION = "coffeechat"


def install(app: Flask, services: Services) -> None:
    """Keep ``services`` on ``app`` for its views."""
    app.extensions[EXTENSION] = services


def services_of(app: Flask) -> Services:
    """The services wired for this app."""
    services: Services = app.extensions[EXTENSION]
    return services
