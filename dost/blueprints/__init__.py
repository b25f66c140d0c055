"""One blueprint package per area; each keeps its templates under dost/templates/<area>/."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from dost.blueprints.api import bp as api_bp
    from dost.blueprints.applications.views import bp as applications_bp
    from dost.blueprints.auth.views import bp as auth_bp
    from dost.blueprints.employer.views import bp as employer_bp
    from dost.blueprints.grants.views import bp as grants_bp
    from dost.blueprints.pages.views import bp as pages_bp

    for blueprint in (pages_bp, auth_bp, employer_bp, applications_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(grants_bp)
    app.register_blueprint(api_bp)
    from dost.blueprints.verify.views import bp as verify_bp

    app.register_blueprint(verify_bp)
    from dost.blueprints.inbox.views import bp as inbox_bp
    from dost.blueprints.staff.views import bp as staff_bp

    app.register_blueprint(staff_bp)
    app.register_blueprint(inbox_bp)
