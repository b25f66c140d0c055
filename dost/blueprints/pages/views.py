"""Public pages: the user manual, the regulation, language choice, health checks."""

from __future__ import annotations

from pathlib import Path

import markdown
from flask import Blueprint, abort, current_app, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import text

from dost.blueprints.common import render
from dost.extensions import db, limiter

bp = Blueprint("pages", __name__)

DOCS = {
    "manual": ("manual.md", "İstifadə Təlimatı"),
    "regulation": ("regulation.md", "Reqlament"),
}


def _render_doc(name: str):
    filename, title = DOCS[name]
    path = Path(current_app.root_path) / "docs" / filename
    html = markdown.markdown(path.read_text(encoding="utf-8"), extensions=["tables", "toc"])
    # The documents are project files, not user input.
    return render("pages/doc.html", title=_(title), body=Markup(html))  # noqa: S704


@bp.get("/manual")
def manual():
    """İstifadə Təlimatı, rendered from the project docs."""
    return _render_doc("manual")


@bp.get("/regulation")
def regulation():
    """Reqlament, rendered from the project docs."""
    return _render_doc("regulation")


@bp.post("/language")
def language():
    """Remember the chosen language for this browser (and for staff, on the account)."""
    form = FlaskForm()
    chosen = request.form.get("locale", "")
    if not form.validate() or chosen not in current_app.config["LANGUAGES"]:
        abort(400)
    session["locale"] = chosen
    if current_user.is_authenticated and current_user.kind == "staff":
        current_user.user.locale = chosen
        db.session.commit()
    target = request.form.get("next", "")
    # Only same-site paths: never an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("auth.index")
    return redirect(target)


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
