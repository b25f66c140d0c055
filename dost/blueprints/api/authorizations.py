"""GET /api/v1/authorizations: may this FİN act for this VÖEN in this service today?"""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _

from dost.blueprints.api import bp, json_error
from dost.extensions import db
from dost.services import grants as service
from dost.services.errors import DomainError
from dost.timeutil import today


def _bearer_token() -> str:
    scheme, _sep, token = (request.headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _unauthorized():
    response = json_error(401, "unauthorized", _("Etibarlı API tokeni tələb olunur (Authorization: Bearer <token>)."))
    response.headers["WWW-Authenticate"] = 'Bearer realm="dost", error="invalid_token"'
    return response


@bp.get("/authorizations")
def authorizations():
    """{"allowed", "grant_id", "valid_until"}: seal holders are allowed with grant_id null and the signature's
    expiry; delegates with the active grant and its last effective day."""
    if service.api_token_for(db.session, _bearer_token()) is None:
        return _unauthorized()
    try:
        voen, code, fin = service.check_authorization_query(
            request.args.get("voen"), request.args.get("service"), request.args.get("fin")
        )
    except DomainError as error:
        return json_error(400, error.code, str(error.message), field=error.field)
    answer = service.authorization(db.session, voen, code, fin, today())
    response = jsonify({
        "allowed": answer.allowed,
        "grant_id": answer.grant_id,
        "valid_until": answer.valid_until.isoformat() if answer.valid_until else None,
    })
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/authorizations", methods=["POST", "PUT", "PATCH", "DELETE"])
def authorizations_other_methods():
    """Only GET is defined; say so in JSON."""
    response = json_error(405, "method_not_allowed", _("Yalnız GET sorğusu qəbul edilir."))
    response.headers["Allow"] = "GET, HEAD, OPTIONS"
    return response
