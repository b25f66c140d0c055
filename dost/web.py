"""Wiring of the Flask app: extensions, locale, blueprints, error pages, headers, CLI."""

from __future__ import annotations

import json
import logging
import math
import os
from datetime import date, datetime
from urllib.parse import urlsplit

from flask import Flask, abort, g, has_request_context, jsonify, render_template, request, session
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import IntegerConverter

from dost import i18n
from dost.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
from dost.services.errors import DomainError
from dost.validation import MAX_ID

log = logging.getLogger("dost")

ERROR_TITLES = {
    400: _l("Sorğu düzgün deyil"),
    403: _l("Bu əməliyyat üçün səlahiyyətiniz yoxdur"),
    409: _l("Məlumat artıq dəyişdirilib"),
    404: _l("Səhifə tapılmadı"),
    405: _l("Bu üsulla müraciət etmək olmaz"),
    413: _l("Göndərilən fayl və ya məlumat çox böyükdür"),
    429: _l("Çox sayda cəhd"),
    500: _l("Daxili xəta baş verdi"),
    503: _l("Xidmət müvəqqəti olaraq əlçatan deyil"),
}


LOCALE_COOKIE = "dost_locale"


def select_locale() -> str:
    """The language chosen in this session (a signed-in user's stored choice), else this browser's, else az."""
    if not has_request_context():
        return "az"
    languages = babel_languages()
    for chosen in (session.get("locale"), request.cookies.get(LOCALE_COOKIE)):
        if chosen in languages:
            return chosen
    return "az"


def babel_languages() -> tuple[str, ...]:
    from flask import current_app

    return current_app.config["LANGUAGES"]


def date_filter(value: date | datetime | None) -> str:
    """dd.mm.yyyy in Azerbaijani, the locale's date format in English and Russian; '-' for nothing."""
    return i18n.format_day(value)


def datetime_filter(value: datetime | None) -> str:
    """dd.mm.yyyy HH:mm (Baku time) in Azerbaijani, the locale's format elsewhere; '-' for nothing."""
    return i18n.format_moment(value)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = {key for key, _value in pairs}
    if len(keys) != len(pairs):
        # Which of two values counts differs between parsers; a client meaning one thing must say it once.
        raise ValueError("duplicate key in a JSON object")
    return dict(pairs)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading strictly: anything but plain, finite, unambiguous JSON is a ValueError, which
    request.get_json answers with a 400 (or None when silent) instead of an uncaught error."""

    def loads(self, s: str | bytes, **kwargs) -> object:
        """Parse JSON (request bodies, through get_json; also Flask's own, such as the session cookie)."""
        if "object_hook" not in kwargs:  # a caller's own object_hook would lose to a pairs hook
            kwargs.setdefault("object_pairs_hook", _unique_keys)
        kwargs.setdefault("parse_constant", _no_constant)
        kwargs.setdefault("parse_float", _finite_float)
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            # The decoder recurses once per level, so [[[…]]] a thousand deep exhausts the stack.
            raise ValueError("JSON nested too deeply") from None


def init_app(app: Flask) -> None:
    """Bind extensions and register everything on the app."""
    from dost import logging_setup

    # Request bodies (Flask-WTF reads JSON ones as form data, through get_json too) are read strictly.
    app.json = StrictJSONProvider(app)
    logging_setup.init_app(app)
    db.init_app(app)
    from dost import audit_log

    audit_log.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    i18n.install_jinja_gettext(app.jinja_env)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from dost import auth

    auth.init_app(app)
    from dost import demo_idp, national_login

    demo_idp.mount(app)
    if not national_login.settings(app):
        # Employers sign in at a national login only: without one (real, or the demo provider) nobody could.
        raise RuntimeError(
            "No national login is configured, so no employer could sign in. Production: set DOST_OIDC_ISSUER, "
            "DOST_OIDC_CLIENT_ID and DOST_OIDC_CLIENT_SECRET (README, 'National login'). Demo: set "
            "DOST_DEMO_PROVIDERS=1 and DOST_DEMO_IDP_ISSUER=http://127.0.0.1:5000/demo-idp (make run does both).")
    national_login.init_app(app)

    from dost.services import signing

    signing.configure(salt=app.config.get("FIN_HASH_SALT") or signing.derive_salt(app.config["SECRET_KEY"]))

    from dost.services import throttle

    with app.app_context():
        throttle.configure(db.engine, app.config["THROTTLE_STORAGE_URI"])

    app.jinja_env.filters["d"] = date_filter
    app.jinja_env.filters["dt"] = datetime_filter
    app.jinja_env.filters["num"] = i18n.format_number
    app.jinja_env.filters["share"] = i18n.format_share
    app.jinja_env.globals["localized"] = i18n.localized
    app.jinja_env.globals["ERROR_TITLES"] = ERROR_TITLES
    from dost import labels

    app.jinja_env.globals["labels"] = labels
    app.jinja_env.filters["actor"] = labels.actor_label
    app.jinja_env.globals["get_locale"] = select_locale
    app.jinja_env.globals["has_endpoint"] = lambda endpoint: endpoint in app.view_functions
    from dost.blueprints.common import official_host

    app.context_processor(lambda: {"official_host": official_host()})

    # Before the blueprints add their rules: every <int:...> in a URL is a database id.
    app.url_map.converters["int"] = IdConverter
    from dost.blueprints import register_blueprints

    register_blueprints(app)
    _register_input_guard(app)
    _register_error_handlers(app)
    _register_headers(app)

    from dost.cli import register_cli

    register_cli(app)
    _warn_about_settings(app)


def _warn_about_settings(app: Flask) -> None:
    """Tell operators at start-up about settings a production deployment needs."""
    from dost.blueprints.common import configured_host

    if configured_host(app.config.get("PUBLIC_BASE_URL")) is None:
        log.warning("DOST_PUBLIC_BASE_URL is not set to the service's public http(s) URL: notices' QR codes will "
                    "carry whatever host each request names instead of the official address, and the page header "
                    "will show no official address.")


def error_page(status: int, message: str | None = None, retry_after: int | None = None):
    """An error page in the site layout (or its fragment for htmx), never a stack trace; JSON under /api/."""
    title = str(ERROR_TITLES.get(status, ERROR_TITLES[500]))
    if request.path.startswith("/api/"):
        # No API route took the request (an unknown URL or method): its clients still read JSON.
        response = jsonify({"error": HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_"),
                            "message": message or title})
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
    else:
        template = "errors/_error.html" if getattr(request, "htmx", False) else "errors/error.html"
        response = app_response(render_template(template, status=status, title=title, message=message), status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def app_response(body: str, status: int):
    from flask import make_response

    response = make_response(body, status)
    if getattr(request, "htmx", False):
        # htmx does not swap error responses by default; retarget the message to the page's alert region.
        response.headers["HX-Retarget"] = "#flash-region"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return error_page(400, _("Formanın müddəti bitib və ya təhlükəsizlik nişanı yoxdur. Səhifəni yeniləyib "
                                 "yenidən cəhd edin."))

    @app.errorhandler(429)
    def too_many(error):
        retry = None
        limit = getattr(error, "limit", None)
        if limit is not None:
            retry = int(limit.limit.get_expiry())
        return error_page(429, _("Qısa müddətdə çox sayda cəhd edildi. Bir az sonra yenidən cəhd edin."),
                          retry_after=retry or 60)

    @app.errorhandler(413)
    def too_large(error):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return error_page(413, _("İcazə verilən ən böyük həcm %(mb)s MB-dır.", mb=limit_mb))

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        # A rule refused something no form field shows (another insurer's id, a stale operation).
        db.session.rollback()
        if error.status_code == 404:
            return error_page(404)
        return error_page(error.status_code, str(error.message) if error.message else None)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = error_page(error.code or 500)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(error):
        db.session.rollback()
        # The page must not reload the signed-in user from the database that just failed.
        g._login_user = login_manager.anonymous_user()
        log.error("database unavailable: %s", error.__class__.__name__)
        return error_page(503, _("Verilənlər bazası müvəqqəti olaraq cavab vermir. Bir neçə saniyədən sonra "
                                 "yenidən cəhd edin; təsdiqlənmiş məlumatlar itmir."))

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        db.session.rollback()
        log.exception("unhandled error")
        return error_page(500)


class IdConverter(IntegerConverter):
    """<int:...> URL parts are ids: a number beyond the 32-bit id columns is no id at all (404), where the
    database would fail (PostgreSQL: out of range; SQLite: overflow)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _register_input_guard(app: Flask) -> None:
    @app.before_request
    def refuse_unusable_input():
        """Input no view can take is a 400 (in each area's format: the APIs answer JSON) before a view or the
        database sees it, on every backend alike: a NUL character (no field takes one and PostgreSQL text cannot
        hold one), or a JSON body on a page that is not an object of texts."""
        values = list(request.args.items(multi=True))
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += request.form.items(multi=True)
        elif request.is_json and not request.path.startswith("/api/"):
            # Flask-WTF reads a JSON body as the form's data: only an object of texts can be one, and only texts
            # that can be written out again (JSON's \ud800 escapes make lone surrogates, which UTF-8 cannot hold).
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not all(isinstance(item, str) and _utf8(key) and _utf8(item)
                                                     for key, item in body.items()):
                abort(400)
            values += body.items()
        if any("\x00" in key or "\x00" in value for key, value in values):
            abort(400)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Session keys of someone signed in (Flask-Login's user id) or signing in (an Asan İmza wait, the insurer choice, a
# signature under way): whatever is answered to such a session is that person's alone.
PERSONAL_SESSION_KEYS = ("_user_id", "pending_credential", "asan_token", "pending_signature")


def _personal_session() -> bool:
    # Authlib keeps a sign-in's state, nonce and PKCE verifier under _state_<client>_<state>.
    return any(key in session for key in PERSONAL_SESSION_KEYS) or any(key.startswith("_state_") for key in session)


def _origin(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in parts.netloc for c in " ;,'\""):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _register_headers(app: Flask) -> None:
    def note_personal_session():
        g.personal_session = _personal_session()

    # First of all, so the note is taken even when a later hook refuses the request (CSRF, rate limit, input guard).
    app.before_request_funcs.setdefault(None, []).insert(0, note_personal_session)
    # ÇIXIŞ is a form whose answer redirects to the national login's end-session endpoint, and browsers hold
    # redirects after a form to form-action too: the provider's origin is allowed there, and no other.
    provider = _origin(app.config.get("OIDC_ISSUER") or "")
    policy = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
              f"connect-src 'self'; frame-ancestors 'none'; form-action 'self'{' ' + provider if provider else ''}; "
              "base-uri 'none'; object-src 'none'")

    @app.after_request
    def security_headers(response):
        if (g.get("personal_session") or _personal_session()) and not (
                request.endpoint == "static" and response.status_code < 400):
            # A signed-in user's pages, fragments, files, redirects and errors (and the responses that sign them in
            # or out) stay out of every cache, the browser's too: FİN and SSN must not outlive ÇIXIŞ on a shared
            # computer. Static assets are the same for everyone and stay cacheable.
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        response.vary.add("HX-Request")
        response.vary.add("Cookie")
        return response
