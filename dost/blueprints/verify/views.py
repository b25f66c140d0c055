"""Public checks of notices (no sign-in): /v/<token>, "Sənədlərin yoxlanılması", "Skan et", keys and the JSON API."""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, current_app, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from wtforms import HiddenField, StringField

from dost import validation
from dost.blueprints.common import attach_error, commit, official_host, render
from dost.extensions import csrf, db, limiter
from dost.services import signing, verification
from dost.services.check_log import CheckLogWriter
from dost.services.errors import DomainError
from dost.services.verification import CheckResult, Reason
from dost.timeutil import today

bp = Blueprint("verify", __name__)
api = Blueprint("verify_api", __name__, url_prefix="/api/v1")
# A JSON API for other programs: no cookies, so no CSRF token.
csrf.exempt(api)
CHECK_LOG = "dost.check_log"
READ_ENGINE = "dost.verify_read_engine"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Icon, colour class and short label per result; the colour is never the only cue.
PRESENTATION = {
    Reason.VALID: ("✔", "ok"),
    Reason.SUPERSEDED: ("↻", "warn"),
    Reason.REFUSED: ("⨯", "warn"),
    Reason.NOT_YET_ISSUED: ("…", "warn"),
    Reason.NOT_FOUND: ("?", "err"),
    Reason.SIGNATURE_INVALID: ("✖", "err"),
    Reason.KEY_REVOKED: ("⚠", "err"),
}


def _verify_limit() -> str:
    return current_app.config["VERIFY_RATE_LIMIT"]


# One budget per client for the pages and the API together.
verify_limit = limiter.shared_limit(_verify_limit, scope="verify")


class CheckForm(FlaskForm):
    """Optional extras of a check: a past date, printed values to match, the notice PDF."""

    date = StringField(_l("Tarixə olan status (istəyə görə)"))
    surname = StringField(_l("Soyadı (çap olunmuş sənəddən)"))
    ssn = StringField(_l("SSN (çap olunmuş sənəddən)"))
    pdf = FileField(_l("Bildirişin PDF faylı"))


class VerifyForm(CheckForm):
    """Sənədlərin yoxlanılması: the notice number and the code printed under its QR."""

    number = StringField(_l("Bildirişin nömrəsi"))
    code = StringField(_l("Yoxlama kodu"))


class RepeatForm(CheckForm):
    """The extras form on a result reached through the number and code (carried as hidden fields)."""

    number = HiddenField()
    code = HiddenField()


@bp.context_processor
def _verify_context() -> dict:
    return {"today_iso": today().isoformat(),
            "max_pdf_mb": max(1, current_app.config["VERIFY_MAX_PDF_BYTES"] // (1024 * 1024))}


def _client() -> str:
    return request.remote_addr or ""


def _extras(form: CheckForm) -> tuple[bool, date | None, str | None]:
    """Validate the optional fields, errors beside each; returns (all valid, date, SHA-256 of the PDF)."""
    ok, on, pdf_hash = True, None, None
    checks = (
        lambda: verification.parse_date(form.date.data or "", today()),
        lambda: verification.validate_surname_input(form.surname.data or ""),
        lambda: verification.validate_ssn_input(form.ssn.data or ""),
    )
    for index, run in enumerate(checks):
        try:
            value = run()
        except DomainError as error:
            attach_error(form, error)
            ok = False
        else:
            if index == 0:
                on = value
    upload = form.pdf.data
    if upload is not None and getattr(upload, "filename", None):
        try:
            pdf_hash = verification.hash_pdf(upload.stream, current_app.config["VERIFY_MAX_PDF_BYTES"])
        except DomainError as error:
            attach_error(form, error)
            ok = False
    return ok, on, pdf_hash


def _reading() -> Connection:
    """A connection in autocommit mode for a check: a check only reads, one statement at a time, so it needs no
    transaction (no BEGIN and ROLLBACK round trips on the busiest public page). Use it in a `with` block."""
    engine = current_app.extensions.get(READ_ENGINE)
    if engine is None:
        engine = current_app.extensions.setdefault(READ_ENGINE,
                                                   db.engine.execution_options(isolation_level="AUTOCOMMIT"))
    return engine.connect()


def _log(result: CheckResult) -> None:
    """Log the check: batched by this process's writer, or at once when VERIFY_LOG_FLUSH_SECONDS is 0."""
    flush_seconds = current_app.config["VERIFY_LOG_FLUSH_SECONDS"]
    if not flush_seconds:
        verification.record_check(db.session, result, _client())
        commit()
        return
    writer = current_app.extensions.get(CHECK_LOG)
    if writer is None:
        writer = current_app.extensions.setdefault(CHECK_LOG, CheckLogWriter(db.engine, flush_seconds))
    writer.add(verification.check_row(result, _client()))


def _result_page(result: CheckResult, form: CheckForm | None, action: str, status: int = 200):
    icon, tone = PRESENTATION[result.reason]
    show_extras = form is not None
    # A scan by an anonymous verifier answers without a form, so without a session cookie either.
    sessionless = not show_extras and not current_user.is_authenticated
    body, status = render("verify/result.html", status=status, result=result, form=form, action=action, icon=icon,
                          tone=tone, official_host=official_host(), format_code=signing.format_code,
                          show_extras=show_extras, sessionless=sessionless)
    # A result shows masked personal data and a status that can change (refused, superseded): never cached.
    return body, status, {"Cache-Control": "no-store"}


@bp.route("/v/<path:token>", methods=["GET", "POST"])
@verify_limit
def public(token: str):
    """The page a QR code opens: authenticity and status of one notice, with optional extra checks."""
    if request.method == "GET":
        with _reading() as reader:
            result = verification.check_token(reader, token, None, channel="qr")
        _log(result)
        # The extra-checks form only when asked for (?more=1): a scan answers without building one.
        return _result_page(result, CheckForm() if request.args.get("more") == "1" else None, request.path)
    form = CheckForm()
    ok, on, pdf_hash = _extras(form)
    with _reading() as reader:
        result = verification.check_token(reader, token, on if ok else None, channel="qr")
    if ok:
        verification.compare_printed(result, form.surname.data or "", form.ssn.data or "")
        if pdf_hash is not None:
            verification.compare_pdf(result, pdf_hash)
    _log(result)
    return _result_page(result, form, request.path, status=200 if ok else 400)


@bp.get("/verify")
def form():
    """Sənədlərin yoxlanılması: type the number and the code printed under the QR."""
    return render("verify/form.html", form=VerifyForm(), official_host=official_host())


@bp.post("/verify")
@verify_limit
def check():
    """Check by number + code (and the optional extras); a wrong code is 'not found' like an unknown number."""
    form = VerifyForm()
    number = code = ""
    ok = True
    try:
        number, code = verification.validate_number_and_code(form.number.data or "", form.code.data or "")
    except DomainError as error:
        attach_error(form, error)
        ok = False
    extras_ok, on, pdf_hash = _extras(form)
    if not (ok and extras_ok):
        return render("verify/form.html", status=400, form=form, official_host=official_host())
    with _reading() as reader:
        result = verification.check_code(reader, number, code, on, channel="form")
    verification.compare_printed(result, form.surname.data or "", form.ssn.data or "")
    if pdf_hash is not None:
        verification.compare_pdf(result, pdf_hash)
    _log(result)
    repeat = RepeatForm(formdata=None, number=number, code=code, date=form.date.data)
    return _result_page(result, repeat, request.path)


@bp.get("/verify/scan")
def scan():
    """Skan et: read the notice's QR code with the device camera."""
    return render("verify/scan.html", official_host=official_host())


@bp.get("/.well-known/dost-keys.json")
def keys():
    """The public signing keys (JWK set) with key ids and validity."""
    response = jsonify(signing.jwks(db.session))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- JSON API -------------------------------------------------------------------------------------------------

URL_FIELDS = {"url": 2048, "date": 10, "surname": 100, "ssn": 13}
CODE_FIELDS = {"number": 64, "code": 32, "date": 10, "surname": 100, "ssn": 13}


def _api_error(status: int, code: str, message: str, field: str | None = None, headers: dict | None = None):
    response = jsonify({"error": code, "message": message, "field": field})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validate_api_body(body) -> dict[str, str]:
    """Exactly the OpenAPI schema (so anything it rejects is a 400 naming the field); meaning is checked after."""
    if not isinstance(body, dict):
        raise DomainError("body", _l("Sorğunun gövdəsi JSON obyekt olmalıdır."))
    allowed = URL_FIELDS if "url" in body else CODE_FIELDS
    for name, value in body.items():
        if name not in allowed:
            raise DomainError("unknown_field", _l("Bu sahə bu sorğuda ola bilməz."), str(name)[:64])
        if not isinstance(value, str):
            raise DomainError("type", _l("Sahənin qiyməti mətn olmalıdır."), name)
        if len(value) > allowed[name]:
            raise DomainError("too_long", _l("Sahənin qiyməti çox uzundur."), name)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise DomainError("encoding", _l("Sahədə yanlış simvol var."), name) from None
        if "\x00" in value:
            # No field takes one, and PostgreSQL text cannot hold one.
            raise DomainError("encoding", _l("Sahədə yanlış simvol var."), name)
    for name in ("url",) if "url" in body else ("number", "code"):
        if not body.get(name):
            raise DomainError("missing", _l("Skan olunmuş keçidi və ya nömrə ilə yoxlama kodunu göndərin."), name)
    if "date" in body and not ISO_DATE.fullmatch(body["date"]):
        raise DomainError("date", _l("Tarixi YYYY-MM-DD formatında göndərin."), "date")
    if "ssn" in body and not validation.is_ssn(body["ssn"]):
        raise DomainError("ssn", _l("SSN 13 rəqəmdən ibarət olmalıdır."), "ssn")
    return body


@api.post("/verify")
@csrf.exempt
@verify_limit
def api_verify():
    """POST /api/v1/verify: JSON in (scanned URL, or number + code; optional date, surname, SSN), reason code out."""
    if not request.is_json:
        return _api_error(415, "unsupported_media_type", str(_l("Content-Type application/json olmalıdır.")))
    body = request.get_json(silent=True)
    try:
        body = _validate_api_body(body)
        on = verification.parse_date(body.get("date", ""), today())
    except DomainError as error:
        return _api_error(400, error.code, str(error.message), error.field)
    with _reading() as reader:
        if "url" in body:
            result = verification.check_url(reader, body["url"], on, channel="api")
        else:
            result = verification.check_code(reader, verification.normalize_number(body["number"]),
                                             verification.normalize_typed_code(body["code"]), on, channel="api")
    verification.compare_printed(result, body.get("surname", ""), body.get("ssn", ""))
    _log(result)
    response = jsonify(result.as_json())
    response.headers["Cache-Control"] = "no-store"
    return response


@api.route("/verify", methods=["GET", "PUT", "PATCH", "DELETE"])
def api_verify_other_methods():
    """Only POST checks a notice (answered here, so the API's catch-all does not say 404)."""
    response = _api_error(405, "method_not_allowed", str(_l("Bu üsulla müraciət etmək olmaz.")))
    response.headers["Allow"] = "OPTIONS, POST"
    return response


@api.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of the verification API."""
    from dost.blueprints.verify.openapi import document

    return jsonify(document(official_host(), current_app.config["VERIFY_RATE_LIMIT"],
                            current_app.config["MAX_CONTENT_LENGTH"]))


@api.errorhandler(400)
def api_bad_request(error):
    return _api_error(400, "bad_request", str(_l("Sorğu düzgün deyil.")))


@api.errorhandler(404)
def api_not_found(error):
    return _api_error(404, "not_found", str(_l("Belə ünvan yoxdur.")))


@api.errorhandler(405)
def api_method_not_allowed(error):
    response = _api_error(405, "method_not_allowed", str(_l("Bu üsulla müraciət etmək olmaz.")))
    response.headers["Allow"] = ", ".join(sorted(getattr(error, "valid_methods", None) or ["POST"]))
    return response


@api.errorhandler(413)
def api_too_large(error):
    return _api_error(413, "too_large", str(_l("Sorğu çox böyükdür.")))


@api.errorhandler(429)
def api_too_many(error):
    retry = 60
    limit = getattr(error, "limit", None)
    if limit is not None:
        retry = int(limit.limit.get_expiry())
    return _api_error(429, "rate_limited", str(_l("Qısa müddətdə çox sayda yoxlama edildi. Bir az sonra yenidən cəhd "
                                                  "edin.")), headers={"Retry-After": str(retry)})


@api.errorhandler(Exception)
def api_server_error(error):
    from werkzeug.exceptions import HTTPException

    if isinstance(error, HTTPException):
        return _api_error(error.code or 500, "http_error", error.name)
    db.session.rollback()
    if isinstance(error, DBAPIError):
        # The database is away (a restart, a failover): a clear answer to retry, as the pages give.
        current_app.logger.error("verification API: database unavailable: %s", error.__class__.__name__)
        return _api_error(503, "database_unavailable", str(_l(
            "Verilənlər bazası müvəqqəti olaraq cavab vermir. Bir neçə saniyədən sonra yenidən cəhd edin; "
            "təsdiqlənmiş məlumatlar itmir.")), headers={"Retry-After": "30"})
    current_app.logger.exception("verification API error")
    return _api_error(500, "server_error", str(_l("Daxili xəta baş verdi.")))


# Nested, so the area registers as one blueprint; the API's JSON error handlers apply to its URLs only.
bp.register_blueprint(api)
