"""Configuration defaults; instance/config.py and DOST_* environment variables override them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_secret_key(instance_path: str) -> str:
    """Read instance/secret_key, creating it (mode 0600) on first run."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


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
        "VERIFY_RATE_LIMIT": "60 per minute",
        # Salt of FİN and client-address hashes; empty: derived from SECRET_KEY. Never change it once notices exist.
        "FIN_HASH_SALT": "",
        "VERIFY_MAX_PDF_BYTES": 2 * 1024 * 1024,
        # The check log is written in batches this often (seconds) by each process; 0: in each request.
        "VERIFY_LOG_FLUSH_SECONDS": 1.0,
        "ASAN_TIMEOUT_SECONDS": 120,
        "DEMO_PROVIDERS": True,
        "PUBLIC_BASE_URL": "",
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "REGISTRY_PAGE_SIZE": 20,
    }


ENVIRONMENT = {
    "DOST_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "DOST_SECRET_KEY": "SECRET_KEY",
    "DOST_RATELIMIT_STORAGE_URL": "RATELIMIT_STORAGE_URI",
    "DOST_PUBLIC_BASE_URL": "PUBLIC_BASE_URL",
    "DOST_FIN_HASH_SALT": "FIN_HASH_SALT",
    "DOST_VERIFY_RATE_LIMIT": "VERIFY_RATE_LIMIT",
    "DOST_SIGN_IN_RATE_LIMIT": "SIGN_IN_RATE_LIMIT",
}


def from_environment() -> dict:
    """Settings given as DOST_* environment variables."""
    settings = {key: os.environ[name] for name, key in ENVIRONMENT.items() if os.environ.get(name)}
    if os.environ.get("DOST_DEMO_PROVIDERS") in ("0", "false", "no"):
        settings["DEMO_PROVIDERS"] = False
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
