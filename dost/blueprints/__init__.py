"""One blueprint package per area; each keeps its templates under dost/templates/<area>/."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from dost.blueprints.auth.views import bp as auth_bp
    from dost.blueprints.employer.views import bp as employer_bp
    from dost.blueprints.pages.views import bp as pages_bp

    for blueprint in (pages_bp, auth_bp, employer_bp):
        app.register_blueprint(blueprint)
