"""The Coffee Chat web site: a Flask app factory, one blueprint per area.

Views parse the request, call one service of a feature package (``scheduler.accounts``, ``scheduler.planning``,
``scheduler.admin``, ...) and render. Nothing below ``web/`` opens its own database connection: the services wired
by ``scheduler.entrypoints.bootstrap`` live on the app.
Areas: ``public`` (home page, health check), ``auth`` (sign-up, emailed links, sign-in and out), ``account`` (the
signed-in person's pages); ``security`` adds headers, cookie flags, rate limits; ``errors`` answers HTML or JSON.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from scheduler.config import Config, find_config_path, load_config
from scheduler.config import secret as read_secret
from scheduler.entrypoints.bootstrap import Services, bootstrap
from web import account, admin, auth, errors, introductions, matches, public, security, still_in
from web.services import install, services_of
from web.urls import WebUrls

log = logging.getLogger(__name__)
csrf = CSRFProtect()


def create_app(config: Config | None = None, test_config: dict[str, Any] | None = None,
               services: Services | None = None) -> Flask:
    """Build the app from ``config`` (default: the file named by $COFFEECHAT_CONFIG or ./coffeechat.toml), with
    ``services`` when given (tests pass their own), else those ``config`` wires, linking to this site's pages."""
    if config is None:
        config = load_config(find_config_path(None))
    app = Flask(__name__)
    key = read_secret(config.web.secret_key_env)
    if key is None:
        # No signed links or sessions outlive a restart without a configured key; say so, never print a key.
        log.warning("$%s is not set: using a random key for this process only", config.web.secret_key_env)
        key = secrets.token_urlsafe(32)
    app.config.update(SECRET_KEY=key, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      COFFEECHAT_CONFIG=config)
    if test_config:
        app.config.update(test_config)
    csrf.init_app(app)
    install(app, services or bootstrap(config, site=WebUrls.from_config(config)))
    security.init_app(app, config, services_of(app))
    auth.init_app(app, app.config["SECRET_KEY"])
    app.register_blueprint(public.blueprint)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(account.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(matches.blueprint)
    app.register_blueprint(still_in.blueprint)
    app.register_blueprint(introductions.blueprint)
    errors.init_app(app)
    return app

