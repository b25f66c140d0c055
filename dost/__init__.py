"""DOST SSŞ application factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from dost import config as config_module


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application: configuration, extensions, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)

    app.config.from_mapping(config_module.defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config_module.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config_module.load_or_create_secret_key(app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = config_module.normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )

    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # One trusted proxy hop (nginx): the client's address (rate limits, logs) and https (HSTS, Secure cookies).
        # Not X-Forwarded-Host: the request's host goes into notice QR codes when PUBLIC_BASE_URL is unset.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)

    from dost import web

    web.init_app(app)
    return app
