"""The demo identity provider: a stand-in for the national login (e-gov.az / Digital Login) for `make run` and the
tests, and a real OpenID provider (Authlib's authorization server, its own RSA key and JWKS, its own database).

It serves the demo e-signatures of `flask --app app dost demo` (dost.demo.CREDENTIALS): RYTN e-İmza cards with
their PINs, and Asan İmza with a simulated phone at /asan-phone. The app talks to it exactly as to the real
provider, through dost.national_login; nothing of it is reachable unless DOST_DEMO_PROVIDERS=1 and
DOST_DEMO_IDP_ISSUER are set (`make run` sets both)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask_babel import Babel, get_locale
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from dost import config as config_module
from dost.demo_idp.models import idp_db
from dost.demo_idp.server import Client, create_server, load_or_create_key
from dost.demo_idp.transport import WSGIAdapter, http_session
from dost.models import SignInThrottle

log = logging.getLogger(__name__)

CLIENT_ID = "dost-ssh-demo"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def create_idp(issuer: str, database_uri: str, clients: list[Client], instance_path: str,
               asan_timeout_seconds: int = 120) -> Flask:
    """The provider as a WSGI app of its own, serving at the issuer's path (mounted there, or alone)."""
    from dost.demo_idp import views

    idp = Flask("dost.demo_idp", template_folder=str(TEMPLATES), static_folder=None,
                instance_path=instance_path)
    idp.config.update(
        SECRET_KEY=config_module.load_or_create_secret_key(instance_path, "demo_idp_secret_key"),
        SQLALCHEMY_DATABASE_URI=database_uri,
        # Beside the app on one host: a cookie of its own, never the app's.
        SESSION_COOKIE_NAME="dost_demo_idp",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="az",
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        ISSUER=issuer.rstrip("/"),
        ASAN_TIMEOUT_SECONDS=asan_timeout_seconds,
        CLIENTS={client.client_id: client for client in clients},
    )
    from dost.web import StrictJSONProvider

    # The app's strict reading of JSON bodies: deep nesting, huge numbers, duplicate keys are a 400, never a 500.
    idp.json = StrictJSONProvider(idp)
    idp_db.init_app(idp)
    Babel(idp, locale_selector=views.select_locale)
    idp.jinja_env.globals.update(csrf_token=generate_csrf, get_locale=get_locale)
    key = load_or_create_key(Path(instance_path) / "demo-idp-key.json")
    idp.extensions["demo_idp_key"] = key
    idp.extensions["demo_idp_server"] = create_server(idp, idp.config["CLIENTS"], idp.config["ISSUER"], key)
    idp.register_blueprint(views.bp)
    with idp.app_context():
        _prepare_store()
    return idp


def _prepare_store() -> None:
    """Create the provider's tables and people; processes starting together race for it, and one wins."""
    from dost.demo_idp import accounts

    for attempt in range(5):
        try:
            idp_db.create_all()
            # The card PIN's guessing limits (dost.services.throttle) kept in the provider's own database.
            SignInThrottle.__table__.create(idp_db.engine, checkfirst=True)
            accounts.load_demo(idp_db.session)
            idp_db.session.commit()
            return
        except (IntegrityError, OperationalError):
            idp_db.session.rollback()
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _redirect_uris(app: Flask, issuer: str, path: str) -> tuple[str, ...]:
    """The app's URLs on the issuer's host, as 127.0.0.1 and as localhost, on the public URL if one is set, and on
    the host of a configured callback URL."""
    parts = urlsplit(issuer)
    port = f":{parts.port}" if parts.port else ""
    bases = {f"{parts.scheme}://{host}{port}" for host in (parts.hostname, "127.0.0.1", "localhost")}
    for configured in (app.config.get("PUBLIC_BASE_URL"), app.config.get("OIDC_REDIRECT_URI")):
        if configured:
            given = urlsplit(configured)
            bases.add(f"{given.scheme}://{given.netloc}")
    return tuple(sorted(base + path for base in bases))


def mount(app: Flask) -> None:
    """Where the demo is on and DEMO_IDP_ISSUER names this server: serve the provider under the issuer's path and
    make the app its registered client, so `make run` signs in the way production does."""
    issuer = (app.config.get("DEMO_IDP_ISSUER") or "").rstrip("/")
    if not issuer or not app.config.get("DEMO_PROVIDERS"):
        return
    if app.config.get("OIDC_ISSUER") and app.config["OIDC_ISSUER"].rstrip("/") != issuer:
        raise RuntimeError("DOST_DEMO_IDP_ISSUER and DOST_OIDC_ISSUER name different providers: set one of them.")
    prefix = urlsplit(issuer).path
    if not prefix or prefix == "/":
        raise RuntimeError("DOST_DEMO_IDP_ISSUER needs a path on this server, such as http://127.0.0.1:5000/demo-idp")
    directory = app.config.get("DEMO_IDP_DIRECTORY") or app.instance_path
    secret = config_module.load_or_create_secret_key(directory, "demo_idp_client_secret")
    client = Client(
        client_id=CLIENT_ID,
        client_secret=secret,
        redirect_uris=_redirect_uris(app, issuer, "/sign-in/callback"),
        post_logout_redirect_uris=_redirect_uris(app, issuer, "/sign-in"),
    )
    database = app.config.get("DEMO_IDP_DATABASE_URL") or "sqlite:///" + str(Path(directory) / "demo-idp.sqlite3")
    idp = create_idp(issuer, database, [client], directory, app.config["ASAN_TIMEOUT_SECONDS"])
    app.config.update(OIDC_ISSUER=issuer, OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET=secret)
    app.extensions["demo_idp"] = idp
    # The back channel to a provider on this same server is answered in-process (dost.demo_idp.transport).
    adapter = WSGIAdapter(idp, issuer)
    app.extensions["national_login_transport"] = adapter
    # Təsdiqlə too: the PIN and the phone confirmation are the provider's, over its back channel.
    from dost.extensions import db
    from dost.registries import bind_signatures
    from dost.registries.demo_remote import ProviderSignatures

    timeout = float(app.config["OIDC_TIMEOUT_SECONDS"])
    http = http_session(adapter)
    with app.app_context():
        bind_signatures(db.engine, lambda session: ProviderSignatures(session, issuer, CLIENT_ID, secret, timeout,
                                                                      http))
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {prefix: idp})
    log.warning("Demo identity provider at %s: anyone who can reach it can sign in as any demo e-signature.",
                issuer)
