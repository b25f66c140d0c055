"""Configuration defaults; instance/config.py and DOST_* environment variables override them."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def read_or_create_secret_file(path: Path, make_content: Callable[[], str]) -> str:
    """The text of a secret file (mode 0600), written with make_content() on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make_content())
        try:
            # Linked only once complete: processes starting together all read the one file that won.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text()


def load_or_create_secret_key(instance_path: str, name: str = "secret_key") -> str:
    """Read instance/<name> (secret_key, audit_key), creating it on first run."""
    return read_or_create_secret_file(Path(instance_path) / name, lambda: secrets.token_hex(32)).strip()


def defaults(instance_path: str) -> dict:
    """Settings every deployment starts from."""
    return {
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(Path(instance_path) / "dost.sqlite3"),
        # No pool_pre_ping: dost.extensions pings only connections that sat idle (a round trip saved per request).
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "BABEL_DEFAULT_LOCALE": "az",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Baku",
        "LANGUAGES": ("az", "en", "ru"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "SIGN_IN_RATE_LIMIT": "10 per minute",
        # The guessing limits per card and per typed staff user name (dost.services.throttle): kept in the database,
        # or in Redis given a redis:// URL; either way shared by every app process.
        "THROTTLE_STORAGE_URI": "database",
        "VERIFY_RATE_LIMIT": "60 per minute",
        # Salt of FİN and client-address hashes; empty: derived from SECRET_KEY. Never change it once notices exist.
        "FIN_HASH_SALT": "",
        "VERIFY_MAX_PDF_BYTES": 2 * 1024 * 1024,
        # The check log is written in batches this often (seconds) by each process; 0: in each request.
        "VERIFY_LOG_FLUSH_SECONDS": 1.0,
        "ASAN_TIMEOUT_SECONDS": 120,
        # The demo providers (the demo identity provider with DEMO_IDP_ISSUER, whose screens and simulated Asan İmza
        # phone sign anyone in and confirm anyone's signing): only where DOST_DEMO_PROVIDERS=1 asks for them (make run
        # does), and every page then says so.
        "DEMO_PROVIDERS": False,
        "PUBLIC_BASE_URL": "",
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "REGISTRY_PAGE_SIZE": 20,
        # Key of the audit chain's HMAC and checkpoint signatures; empty: generated instance/audit_key. Keep it and
        # the checkpoint file off the database server: with the key, database access suffices to rewrite the chain.
        "AUDIT_KEY": "",
        "AUDIT_CHECKPOINT_FILE": str(Path(instance_path) / "audit-checkpoints.jsonl"),
        # A process that appended audit events checkpoints the head after a commit once this many seconds passed.
        "AUDIT_CHECKPOINT_SECONDS": 60,
        # The national login (OpenID Connect provider) employers sign in at; empty: the in-app demo screens.
        "OIDC_ISSUER": "",
        "OIDC_CLIENT_ID": "",
        "OIDC_CLIENT_SECRET": "",
        "OIDC_SCOPES": "openid user certificate",
        # The callback URL registered with the provider; empty: PUBLIC_BASE_URL (or the request's host) followed
        # by /sign-in/callback.
        "OIDC_REDIRECT_URI": "",
        # Claim names (dost.services.national_identity.DEFAULT_CLAIMS) and certificate kinds, where the provider's
        # differ.
        "OIDC_CLAIMS": {},
        "OIDC_CERTIFICATE_KINDS": {},
        "OIDC_TIMEOUT_SECONDS": 5,
        # The demo identity provider (dost.demo_idp), served by this app at this URL's path and made its national
        # login; only with DEMO_PROVIDERS. Its own database: DEMO_IDP_DATABASE_URL, else instance/demo-idp.sqlite3.
        "DEMO_IDP_ISSUER": "",
        "DEMO_IDP_DATABASE_URL": "",
        # Where the demo provider keeps its signing key, secrets and (by default) database; empty: instance/.
        "DEMO_IDP_DIRECTORY": "",
    }


ENVIRONMENT = {
    "DOST_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "DOST_SECRET_KEY": "SECRET_KEY",
    "DOST_RATELIMIT_STORAGE_URL": "RATELIMIT_STORAGE_URI",
    "DOST_THROTTLE_STORAGE_URL": "THROTTLE_STORAGE_URI",
    "DOST_PUBLIC_BASE_URL": "PUBLIC_BASE_URL",
    "DOST_FIN_HASH_SALT": "FIN_HASH_SALT",
    "DOST_VERIFY_RATE_LIMIT": "VERIFY_RATE_LIMIT",
    "DOST_SIGN_IN_RATE_LIMIT": "SIGN_IN_RATE_LIMIT",
    "DOST_AUDIT_KEY": "AUDIT_KEY",
    "DOST_AUDIT_CHECKPOINT_FILE": "AUDIT_CHECKPOINT_FILE",
    "DOST_AUDIT_CHECKPOINT_SECONDS": "AUDIT_CHECKPOINT_SECONDS",
    "DOST_OIDC_ISSUER": "OIDC_ISSUER",
    "DOST_OIDC_CLIENT_ID": "OIDC_CLIENT_ID",
    "DOST_OIDC_CLIENT_SECRET": "OIDC_CLIENT_SECRET",
    "DOST_OIDC_SCOPES": "OIDC_SCOPES",
    "DOST_OIDC_REDIRECT_URI": "OIDC_REDIRECT_URI",
    "DOST_OIDC_TIMEOUT_SECONDS": "OIDC_TIMEOUT_SECONDS",
    "DOST_DEMO_IDP_ISSUER": "DEMO_IDP_ISSUER",
    "DOST_DEMO_IDP_DATABASE_URL": "DEMO_IDP_DATABASE_URL",
}
# Settings given as a JSON object in the environment.
JSON_ENVIRONMENT = {
    "DOST_OIDC_CLAIMS": "OIDC_CLAIMS",
    "DOST_OIDC_CERTIFICATE_KINDS": "OIDC_CERTIFICATE_KINDS",
}


TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def from_environment() -> dict:
    """Settings given as DOST_* environment variables."""
    settings = {key: os.environ[name] for name, key in ENVIRONMENT.items() if os.environ.get(name)}
    for name, key in JSON_ENVIRONMENT.items():
        if os.environ.get(name):
            value = json.loads(os.environ[name])
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ValueError(f"{name} must be a JSON object of strings")
            settings[key] = value
    demo = (os.environ.get("DOST_DEMO_PROVIDERS") or "").strip().lower()
    if demo in TRUE or demo in FALSE:
        settings["DEMO_PROVIDERS"] = demo in TRUE
    if os.environ.get("DOST_HTTPS") in ("1", "true", "yes"):
        # Served over HTTPS behind a proxy: Secure cookies, https URLs, trust one proxy hop.
        settings.update(SESSION_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https", PROXY_FIX=True)
    return settings


def normalize_database_url(url: str) -> str:
    """postgresql:// URLs use psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
