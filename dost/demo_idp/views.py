"""The demo provider's endpoints: discovery, keys, the authorization endpoint with its sign-in screens (RYTN
e-İmza card + PIN, or Asan İmza with a phone confirmation), the token endpoint, RP-initiated logout and the
simulated Asan İmza phone."""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, abort, current_app, jsonify, make_response, redirect, render_template, request, session
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select, update
from werkzeug.exceptions import HTTPException
from wtforms import PasswordField, StringField

from dost import validation
from dost.demo_idp.models import IdpCertificate, IdpPhoneRequest, idp_db
from dost.demo_idp.server import public_key_set
from dost.services import throttle
from dost.services.errors import DomainError
from dost.services.passwords import check_password, hash_password
from dost.timeutil import utcnow

bp = Blueprint("idp", __name__)
log = logging.getLogger(__name__)

LANGUAGES = ("az", "en", "ru")
_UNKNOWN_PIN_HASH: list[str] = []


def select_locale() -> str:
    """The language the relying party asked for (ui_locales), kept for the rest of this sign-in."""
    for tag in (request.args.get("ui_locales") or "").split():
        if tag[:2] in LANGUAGES:
            session["locale"] = tag[:2]
            break
    return session.get("locale", "az")


class CardForm(FlaskForm):
    card_number = StringField(_l("Kartın nömrəsi"))
    pin = PasswordField(_l("PIN kod"))


class AsanForm(FlaskForm):
    mobile_number = StringField(_l("Mobil nömrə"))
    asan_user_id = StringField(_l("İstifadəçi ID"))


def _server():
    return current_app.extensions["demo_idp_server"]


def _issuer() -> str:
    return current_app.config["ISSUER"]


@bp.get("/.well-known/openid-configuration")
def discovery():
    """OpenID Connect Discovery 1.0."""
    issuer = _issuer()
    response = jsonify({
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/session/end",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "user", "certificate"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "fin", "name",
                             "certificate", "organizations"],
        "ui_locales_supported": list(LANGUAGES),
    })
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/jwks")
def jwks():
    """The public half of the signing key."""
    # Relying parties cache the key set; each fetch is logged, so `python -m bench signin` can count them.
    log.info("demo identity provider: key set served")
    response = jsonify(public_key_set(current_app.extensions["demo_idp_key"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@bp.before_request
def _forms_only():
    # Every post here is an HTML form or an OAuth token request, both form-encoded: any other body is refused before
    # a form library tries to read it.
    if request.method == "POST" and request.mimetype not in FORM_TYPES:
        abort(400)


@bp.app_errorhandler(HTTPException)
def _error(error: HTTPException):
    """Errors on this provider's own page, never a stack trace."""
    return _page("demo_idp/error.html", error.code or 500, message=error.description, refused=False)


@bp.after_request
def _headers(response):
    # Sign-in screens, codes and tokens are this browser's alone; only discovery and the keys may be cached.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _page(template: str, status: int = 200, **context):
    return make_response(render_template(template, **context), status)


def _invalid_request(error: OAuth2Error):
    # Never redirect to a client's URI that this provider has not checked: say so here instead.
    return _page("demo_idp/error.html", 400, message=error.description or error.error, refused=True)


MAX_FIELD = 64
# Each field: (required message, normalizer, check, format message); every field's error is shown at once.
CARD_RULES = {
    "card_number": (_l("Kartın nömrəsini daxil edin."), str.strip, validation.is_card_number,
                    _l("Kartın nömrəsi 8–16 rəqəmdən ibarət olmalıdır.")),
    "pin": (_l("PIN kodu daxil edin."), str.strip, lambda value: validation.PIN_RE.fullmatch(value) is not None,
            _l("PIN kod 4–8 rəqəmdən ibarət olmalıdır.")),
}
ASAN_RULES = {
    "mobile_number": (_l("Mobil nömrəni daxil edin."), lambda value: validation.normalize_mobile(value.strip()),
                      validation.is_mobile,
                      _l("Mobil nömrə +994 XX XXX XX XX formatında olmalıdır (operator kodu 10, 50, 51, 55, 60, 70, "
                         "77 və ya 99).")),
    "asan_user_id": (_l("İstifadəçi ID-ni daxil edin."), str.strip,
                     lambda value: validation.ASAN_USER_ID_RE.fullmatch(value) is not None,
                     _l("İstifadəçi ID 6 rəqəmdən ibarət olmalıdır.")),
}


def _check_fields(form: FlaskForm, rules: dict) -> list[str | None]:
    """Each field's value if it is well formed, else None with its message beside it."""
    values = []
    for name, (required, normalize, check, wrong) in rules.items():
        field = getattr(form, name)
        raw = field.data or ""
        value = normalize(raw) if len(raw) <= MAX_FIELD else raw
        error = (required if not value else _l("Daxil edilən dəyər çox uzundur.") if len(raw) > MAX_FIELD
                 else None if check(value) else wrong)
        if error is not None:
            field.errors = [str(error)]
        values.append(None if error is not None else value)
    return values


def _card_check(card_number: str, pin: str) -> IdpCertificate:
    """The card's certificate if the PIN is right, within the card's guessing limit (dost.services.throttle, in this
    provider's database); DomainError otherwise."""
    attempt = throttle.attempt(idp_db.session, throttle.card(card_number), utcnow(), "pin")
    certificate = idp_db.session.scalar(select(IdpCertificate).where(IdpCertificate.card_serial == card_number))
    if certificate is None or certificate.pin_hash is None:
        if not _UNKNOWN_PIN_HASH:
            _UNKNOWN_PIN_HASH.append(hash_password(secrets.token_hex(8)))
        # As much work as for a real card: the time taken tells no one which cards exist.
        check_password(_UNKNOWN_PIN_HASH[0], pin)
        certificate = None
    elif not check_password(certificate.pin_hash, pin):
        certificate = None
    if certificate is None:
        # One answer for an unknown card and a wrong PIN: sign-in tells no one which card numbers exist.
        raise attempt.failed("pin") or DomainError("wrong_card_or_pin", _l("Kartın nömrəsi və ya PIN kod yanlışdır."),
                                                   "pin")
    throttle.succeeded(idp_db.session, attempt)
    return certificate


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    """The authorization endpoint: check the relying party's request, let the person sign in, answer with a code."""
    server = _server()
    try:
        grant = server.get_consent_grant()
    except OAuth2Error as error:
        return _invalid_request(error)
    card_form, asan_form = CardForm(), AsanForm()
    method = "asan" if request.values.get("method") == "asan" else "card"
    status, retry_after = 200, None
    if request.method == "GET" and request.args.get("asan_token"):
        certificate = _take_confirmed(request.args["asan_token"])
        if certificate is not None:
            return server.create_authorization_response(grant=grant, grant_user=certificate)
    if request.method == "POST":
        action = request.form.get("action")
        if action == "cancel" and FlaskForm().validate():
            return server.create_authorization_response(grant=grant, grant_user=None)
        if action == "card" and card_form.validate():
            method, status = "card", 400
            number, pin = _check_fields(card_form, CARD_RULES)
            if number and pin:
                try:
                    certificate = _card_check(number, pin)
                except DomainError as error:
                    card_form.pin.errors = [str(error.message)]
                    status = error.status_code
                    retry_after = getattr(error, "retry_after", None)
                else:
                    return server.create_authorization_response(grant=grant, grant_user=certificate)
            card_form.pin.data = ""
        elif action == "asan" and asan_form.validate():
            method, status = "asan", 400
            mobile, user_id = _check_fields(asan_form, ASAN_RULES)
            if mobile and user_id:
                certificate = _mobile_certificate(mobile)
                if certificate is None or not secrets.compare_digest(certificate.asan_user_id or "", user_id):
                    # One answer for an unknown number and a wrong user ID: no one learns who holds an Asan İmza.
                    asan_form.asan_user_id.errors = [str(_l("Mobil nömrə və ya istifadəçi ID yanlışdır."))]
                else:
                    return redirect(_start_phone_request(certificate))
        else:
            # The form's security token is missing or stale (a page kept open too long, or a forged post).
            (asan_form if action == "asan" else card_form).form_errors.append(
                str(_l("Səhifənin müddəti bitib. Yenidən cəhd edin.")))
            status = 400
    response = _page("demo_idp/sign_in.html", status, card_form=card_form, asan_form=asan_form, method=method,
                     query=request.query_string.decode())
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _mobile_certificate(mobile: str) -> IdpCertificate | None:
    """The Asan İmza (or SİMA) certificate on this mobile number."""
    return idp_db.session.scalar(select(IdpCertificate).where(
        IdpCertificate.mobile_number == mobile, IdpCertificate.kind != "card"))


def _start_phone_request(certificate: IdpCertificate) -> str:
    phone_request = IdpPhoneRequest(token=secrets.token_urlsafe(32), certificate_id=certificate.id,
                                    verification_code=f"{secrets.randbelow(10000):04d}", created_at=time.time())
    idp_db.session.add(phone_request)
    idp_db.session.commit()
    # Only this browser may finish the sign-in the phone confirms; it resumes the same authorization request.
    session["asan"] = {"token": phone_request.token, "query": request.query_string.decode()}
    return f"{_issuer()}/asan/{phone_request.token}"


def _own_phone_request(token: str) -> tuple[IdpPhoneRequest, str]:
    pending = session.get("asan") or {}
    if pending.get("token") != token:
        abort(404)
    phone_request = idp_db.session.scalar(select(IdpPhoneRequest).where(
        IdpPhoneRequest.token == token, IdpPhoneRequest.purpose == "sign_in"))
    if phone_request is None:
        abort(404)
    return phone_request, pending.get("query", "")


def _state(phone_request: IdpPhoneRequest) -> str:
    if phone_request.status == "pending" and time.time() - phone_request.created_at > current_app.config[
            "ASAN_TIMEOUT_SECONDS"]:
        return "expired"
    return phone_request.status


def _take_confirmed(token: str) -> IdpCertificate | None:
    """The certificate of a confirmed phone request of this browser, used once."""
    pending = session.get("asan") or {}
    if pending.get("token") != token:
        return None
    taken = idp_db.session.execute(update(IdpPhoneRequest).where(
        IdpPhoneRequest.token == token, IdpPhoneRequest.purpose == "sign_in", IdpPhoneRequest.status == "confirmed",
    ).values(status="used")).rowcount
    idp_db.session.commit()
    session.pop("asan", None)
    if taken != 1:
        return None
    phone_request = idp_db.session.scalar(select(IdpPhoneRequest).where(IdpPhoneRequest.token == token))
    return phone_request.certificate


@bp.get("/asan/<token>")
def asan_wait(token: str):
    """The verification code, while the phone is asked; polls until it answers."""
    phone_request, query = _own_phone_request(token)
    return _asan_page(phone_request, query)


@bp.get("/asan/<token>/status")
def asan_status(token: str):
    """Poll target: still waiting, expired, or confirmed (then back to the authorization endpoint)."""
    phone_request, query = _own_phone_request(token)
    if _state(phone_request) == "confirmed":
        target = f"{_issuer()}/authorize?{query}&{urlencode({'asan_token': token})}"
        if request.headers.get("HX-Request"):
            response = make_response("", 204)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)
    return _asan_page(phone_request, query, fragment=bool(request.headers.get("HX-Request")))


def _asan_page(phone_request: IdpPhoneRequest, query: str, fragment: bool = False):
    template = "demo_idp/_asan_status.html" if fragment else "demo_idp/asan_wait.html"
    return _page(template, request=phone_request, state=_state(phone_request), query=query,
                 timeout=current_app.config["ASAN_TIMEOUT_SECONDS"])


@bp.post("/token")
def token():
    """The token endpoint: a code (once, with its PKCE verifier and the client's secret) for an ID token."""
    return _server().create_token_response()


# ---------------------------------------------------------------- signing (the relying party's back channel)


def _signing_client():
    """The registered client calling (HTTP Basic, as at the token endpoint), or a 401."""
    auth = request.authorization
    client = current_app.config["CLIENTS"].get(auth.username if auth else "")
    if auth is None or client is None or not client.check_client_secret(auth.password or ""):
        abort(401)
    return client


def _answer(payload: dict, status: int = 200):
    return jsonify(payload), status


@bp.post("/signing/card")
def signing_card():
    """Təsdiqlə with a card: the PIN checked again by the provider, within the card's guessing limit."""
    _signing_client()
    values = _check_fields(CardForm(meta={"csrf": False}), CARD_RULES)
    if not all(values):
        return _answer({"error": "format"}, 400)
    try:
        certificate = _card_check(*values)
    except DomainError as error:
        return _answer({"error": "throttled" if error.code == "throttled" else "wrong_secret"}, 403)
    return _answer({"subject": certificate.subject, "card_number": certificate.card_serial})


@bp.post("/signing/asan")
def signing_asan():
    """Təsdiqlə with Asan İmza: a signing request to the certificate's phone; returns the code to compare."""
    _signing_client()
    mobile = validation.normalize_mobile((request.form.get("mobile_number") or "")[:20])
    certificate = _mobile_certificate(mobile) if validation.is_mobile(mobile) else None
    if certificate is None:
        return _answer({"error": "unknown"}, 404)
    phone_request = IdpPhoneRequest(token=secrets.token_urlsafe(32), certificate_id=certificate.id,
                                    verification_code=f"{secrets.randbelow(10000):04d}", purpose="sign",
                                    created_at=time.time())
    idp_db.session.add(phone_request)
    idp_db.session.commit()
    return _answer({"token": phone_request.token, "verification_code": phone_request.verification_code,
                    "created_at": phone_request.created_at})


@bp.get("/signing/asan/<token>")
def signing_asan_state(token: str):
    """pending, expired, unknown, or confirmed — once: the confirmation is used by the first poll that sees it."""
    _signing_client()
    phone_request = idp_db.session.scalar(select(IdpPhoneRequest).where(
        IdpPhoneRequest.token == token[:64], IdpPhoneRequest.purpose == "sign"))
    if phone_request is None or phone_request.status == "used":
        return _answer({"state": "unknown"})
    if phone_request.status == "confirmed":
        taken = idp_db.session.execute(update(IdpPhoneRequest).where(
            IdpPhoneRequest.id == phone_request.id, IdpPhoneRequest.status == "confirmed").values(status="used")
        ).rowcount
        idp_db.session.commit()
        if taken != 1:
            return _answer({"state": "unknown"})
        return _answer({"state": "confirmed", "mobile_number": phone_request.certificate.mobile_number})
    return _answer({"state": _state(phone_request)})


@bp.get("/session/end")
def end_session():
    """RP-initiated logout: forget this browser's sign-in and return to the relying party's registered page."""
    session.clear()
    clients = current_app.config["CLIENTS"]
    client = clients.get(request.args.get("client_id") or "")
    target = request.args.get("post_logout_redirect_uri") or ""
    if client is not None and target in client.post_logout_redirect_uris:
        state = request.args.get("state")
        return redirect(target + (("&" if "?" in target else "?") + urlencode({"state": state}) if state else ""))
    return _page("demo_idp/signed_out.html")


@bp.route("/asan-phone", methods=["GET", "POST"])
def asan_phone():
    """The simulated Asan İmza phone: the requests waiting for a mobile number, confirmed with one tap."""
    mobile = validation.normalize_mobile((request.values.get("mobile") or "").strip()[:20])
    confirmed = False
    if request.method == "POST" and FlaskForm().validate():
        token = (request.form.get("token") or "")[:64]
        confirmed = idp_db.session.execute(update(IdpPhoneRequest).where(
            IdpPhoneRequest.token == token, IdpPhoneRequest.status == "pending").values(status="confirmed")
        ).rowcount == 1
        idp_db.session.commit()
    pending = []
    if validation.is_mobile(mobile):
        since = time.time() - current_app.config["ASAN_TIMEOUT_SECONDS"]
        pending = list(idp_db.session.scalars(
            select(IdpPhoneRequest).join(IdpCertificate)
            .where(IdpCertificate.mobile_number == mobile, IdpPhoneRequest.status == "pending",
                   IdpPhoneRequest.created_at >= since)
            .order_by(IdpPhoneRequest.id.desc())))
    return _page("demo_idp/asan_phone.html", mobile=mobile, pending=pending, confirmed=confirmed)
