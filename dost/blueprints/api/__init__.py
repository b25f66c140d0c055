"""JSON API for other DSMF services, authenticated with API tokens (so CSRF-exempt); every answer is JSON."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

from dost.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def json_error(status: int, error: str, message: str, **extra):
    """An error as JSON: a stable English code and an Azerbaijani message."""
    response = jsonify({"error": error, "message": message, **extra})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return json_error(error.code or 500, (error.name or "error").lower().replace(" ", "_"), error.description or "")


from dost.blueprints.api import authorizations  # noqa: E402,F401  (registers the routes on bp)
