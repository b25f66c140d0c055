"""Public pages: the user manual, the regulation, language choice, health checks."""

from __future__ import annotations

from pathlib import Path

import markdown
from flask import Blueprint, abort, current_app, jsonify, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import text

from dost.blueprints.common import local_path, render
from dost.extensions import csrf, db, limiter
from dost.web import LOCALE_COOKIE

bp = Blueprint("pages", __name__)

DOCS = {
    "manual": ("manual.md", _l("İstifadə Təlimatı")),
    "regulation": ("regulation.md", _l("Reqlament")),
}
# The anonymous visitor's choice, for a year; a signed-in user's choice is stored on the account.
LOCALE_COOKIE_AGE = 365 * 24 * 3600


def _render_doc(name: str):
    filename, title = DOCS[name]
    path = Path(current_app.root_path) / "docs" / filename
    html = markdown.markdown(path.read_text(encoding="utf-8"), extensions=["tables", "toc"])
    # The documents are project files, not user input.
    return render("pages/doc.html", title=str(title), body=Markup(html))  # noqa: S704


@bp.get("/manual")
def manual():
    """İstifadə Təlimatı, rendered from the project docs."""
    return _render_doc("manual")


@bp.get("/regulation")
def regulation():
    """Reqlament, rendered from the project docs."""
    return _render_doc("regulation")


@bp.post("/language")
@csrf.exempt
def language():
    """Remember the chosen language: in the session, in a cookie of this browser, and on the signed-in
    user's account (employer credential or staff user), which sign-in applies again next time.

    A signed-in user's choice is stored on the account, so it needs the CSRF token; an anonymous visitor's only
    sets this browser's language, which a forged request cannot abuse, so the public verification pages can
    offer the switch without giving every scanner a session cookie."""
    if current_user.is_authenticated:
        csrf.protect()
    chosen = request.form.get("locale", "")
    if chosen not in current_app.config["LANGUAGES"]:
        abort(400)
    session["locale"] = chosen
    if current_user.is_authenticated and current_user.locale != chosen:
        current_user.locale = chosen
        db.session.commit()
    # Only same-site paths: never an open redirect.
    response = redirect(local_path(request.form.get("next")) or url_for("auth.index"))
    response.set_cookie(LOCALE_COOKIE, chosen, max_age=LOCALE_COOKIE_AGE, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """The database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any failure means not ready
        db.session.rollback()
        return jsonify(status="unavailable"), 503
    return jsonify(status="ready")


from dost.blueprints.pages import walkthrough  # noqa: E402,F401  (the Video təlimat route joins bp)
