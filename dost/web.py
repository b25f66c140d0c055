"""Wiring of the Flask app: extensions, locale, blueprints, error pages, headers, CLI."""

from __future__ import annotations

import logging
import os
from datetime import date, datetime

from flask import Flask, abort, g, has_request_context, render_template, request, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException
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


def init_app(app: Flask) -> None:
    """Bind extensions and register everything on the app."""
    from dost import logging_setup

    logging_setup.init_app(app)
    db.init_app(app)
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

    from dost.services import signing

    signing.configure(salt=app.config.get("FIN_HASH_SALT") or signing.derive_salt(app.config["SECRET_KEY"]))

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

    # Before the blueprints add their rules: every <int:...> in a URL is a database id.
    app.url_map.converters["int"] = IdConverter
    from dost.blueprints import register_blueprints

    register_blueprints(app)
    _register_input_guard(app)
    _register_error_handlers(app)
    _register_headers(app)

    from dost.cli import register_cli

    register_cli(app)


def error_page(status: int, message: str | None = None, retry_after: int | None = None):
    """An error page in the site layout (or its fragment for htmx), never a stack trace."""
    template = "errors/_error.html" if getattr(request, "htmx", False) else "errors/error.html"
    body = render_template(template, status=status, title=str(ERROR_TITLES.get(status, ERROR_TITLES[500])),
                           message=message)
    response = app_response(body, status)
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
        return error_page(error.code or 500)

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
            # Flask-WTF reads a JSON body as the form's data: only an object of texts can be one.
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not all(isinstance(item, str) for item in body.values()):
                abort(400)
            values += body.items()
        if any("\x00" in key or "\x00" in value for key, value in values):
            abort(400)


def _register_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
            "object-src 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        response.vary.add("HX-Request")
        response.vary.add("Cookie")
        return response
