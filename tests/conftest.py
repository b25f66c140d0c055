"""Fixtures: the app on SQLite and (when DOST_TEST_DATABASE_URL is set) on PostgreSQL, with the demo data
restored before every test, and a client that sends the CSRF token like the pages do."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.serving import WSGIRequestHandler, make_server

from dost import create_app
from dost.extensions import db, limiter
from dost.models import Base
from dost.services.passwords import use_hasher

PG_URL = os.environ.get("DOST_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
_ran_postgres: list[str] = []

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def pytest_configure(config):
    # Hashing cost is irrelevant to behaviour; keep the suite fast.
    use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    _compile_stale_catalogs()


def _compile_stale_catalogs() -> None:
    """`make test` compiles the catalogs first; a bare pytest run must not test stale .mo files either."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (Path(__file__).resolve().parent.parent / "dost" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source, mo.open("wb") as target:
                write_mo(target, read_po(source))


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed and "[postgresql" in report.nodeid:
        _ran_postgres.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    for server in _servers:
        server.shutdown()
        server.server_close()
    # CI must exercise PostgreSQL: a run where no PostgreSQL test passed is a failure.
    if os.environ.get("DOST_REQUIRE_POSTGRES") == "1" and not _ran_postgres and exitstatus == 0:
        session.config.get_terminal_reporter().write_line("FAILED: no PostgreSQL test ran", red=True)
        session.exitstatus = 1


class CsrfClient(FlaskClient):
    """A test client that reads the CSRF token from the page's meta tag, as htmx does."""

    def csrf_token(self) -> str:
        page = self.get("/sign-in").get_data(as_text=True)
        match = CSRF_META.search(page)
        assert match, "no csrf meta tag"
        return match.group(1)

    def open(self, *args, csrf: bool = True, **kwargs):
        method = kwargs.get("method", "GET").upper()
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


class Snapshot:
    """The demo database as loaded once; restored before each test."""

    def __init__(self, app: Flask, backend: str, path: Path | None):
        self.app = app
        self.backend = backend
        self.path = path
        self.memory: sqlite3.Connection | None = None
        self.tables = [t.name for t in Base.metadata.sorted_tables]
        # The audit checkpoints written outside the database belong to the snapshot too.
        self.checkpoints = Path(app.config["AUDIT_CHECKPOINT_FILE"])
        self.checkpoint_lines: bytes | None = None

    def take(self) -> None:
        self.checkpoint_lines = self.checkpoints.read_bytes() if self.checkpoints.exists() else None
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
            if self.backend == "sqlite":
                self.memory = sqlite3.connect(":memory:", check_same_thread=False)
                with sqlite3.connect(self.path) as source:
                    source.backup(self.memory)
            else:
                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA IF EXISTS snapshot CASCADE"))
                    conn.execute(text("CREATE SCHEMA snapshot"))
                    for table in self.tables:
                        conn.execute(text(f'CREATE TABLE snapshot."{table}" AS TABLE public."{table}"'))

    def restore(self) -> None:
        self.checkpoints.unlink(missing_ok=True)
        if self.checkpoint_lines is not None:
            self.checkpoints.write_bytes(self.checkpoint_lines)
        with self.app.app_context():
            db.session.remove()
            if self.backend == "sqlite":
                db.engine.dispose()
                target = sqlite3.connect(self.path)
                try:
                    self.memory.backup(target)
                finally:
                    target.close()
            else:
                quoted = ", ".join(f'public."{t}"' for t in self.tables)
                with db.engine.begin() as conn:
                    conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
                    for table in self.tables:
                        conn.execute(text(f'INSERT INTO public."{table}" SELECT * FROM snapshot."{table}"'))
                    for table in self.tables:
                        conn.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('public.\"{table}\"', 'id'), "
                            f'COALESCE((SELECT MAX(id) FROM public."{table}"), 0) + 1, false)'
                        ))


# The suite's apps call back to the provider over HTTP (the token endpoint); the browser's part of a sign-in goes
# through the test client, whose requests come from this host.
TEST_CALLBACK = "http://localhost/sign-in/callback"


def serve_in_thread(app: Flask, port: int) -> None:
    """Serve the app (with the demo identity provider mounted in it) on a loopback port for the rest of the run."""
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _servers.append(server)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


_servers: list = []


def build_app(database_url: str, instance_path: Path, **overrides) -> Flask:
    """The app on a test database. Unless the test names its own national login, it signs in at the demo identity
    provider, mounted at /demo-idp and served on a loopback port for the provider's back channel."""
    port = None
    if not overrides.get("OIDC_ISSUER") and overrides.get("DEMO_PROVIDERS", True):
        port = free_port()
        overrides = {"DEMO_PROVIDERS": True, "DEMO_IDP_ISSUER": f"http://127.0.0.1:{port}/demo-idp",
                     "DEMO_IDP_DIRECTORY": str(instance_path), "OIDC_REDIRECT_URI": TEST_CALLBACK, **overrides}
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SIGN_IN_RATE_LIMIT": "1000 per minute",
        "VERIFY_RATE_LIMIT": "10000 per minute",
        # Checks logged in the request, so a test sees them at once (tests/test_check_log.py tests the batching).
        "VERIFY_LOG_FLUSH_SECONDS": 0,
        "SERVER_NAME": None,
        # create_app's instance path is the project's: the audit key and checkpoints must not land there.
        "AUDIT_KEY": "test-audit-key-0123456789abcdef0123456789",
        "AUDIT_CHECKPOINT_FILE": str(Path(instance_path) / "audit-checkpoints.jsonl"),
        **overrides,
    }
    app = create_app(config)
    app.test_client_class = CsrfClient
    if port is not None:
        serve_in_thread(app, port)
    return app


def forget_provider_state(app: Flask) -> None:
    """The demo identity provider's database outlives a test: its codes, phone requests and guessing limits go."""
    from dost.demo_idp.models import IdpAuthorizationCode, IdpPhoneRequest, idp_db
    from dost.models import SignInThrottle

    idp = app.extensions.get("demo_idp")
    if idp is None:
        return
    with idp.app_context():
        for table in (IdpAuthorizationCode.__table__, IdpPhoneRequest.__table__, SignInThrottle.__table__):
            idp_db.session.execute(table.delete())
        idp_db.session.commit()


def reset_postgres_schema(app: Flask) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS snapshot CASCADE"))
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session", params=BACKENDS)
def snapshot(request, tmp_path_factory) -> Iterator[Snapshot]:
    """One app per backend with the schema and the demo data, loaded once."""
    from dost import demo

    backend = request.param
    base = tmp_path_factory.mktemp(backend)
    path = base / "test.sqlite3" if backend == "sqlite" else None
    url = f"sqlite:///{path}" if backend == "sqlite" else PG_URL
    # The demo providers are off by default; the suite signs in at the demo identity provider, and confirms Asan İmza
    # signing on the demo signature provider's simulated phone.
    app = build_app(url, base, DEMO_PROVIDERS=True)
    if backend == "postgresql":
        reset_postgres_schema(app)
    with app.app_context():
        # Tests build the schema from the models; tests/test_migrations.py proves migrations match them.
        Base.metadata.create_all(db.engine)
        demo.load(db.session)
        db.session.commit()
    snap = Snapshot(app, backend, path)
    snap.take()
    yield snap
    if backend == "postgresql":
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(snapshot: Snapshot) -> Iterator[Flask]:
    """The app with a fresh copy of the demo data."""
    snapshot.restore()
    forget_provider_state(snapshot.app)
    snapshot.app.config.update(SIGN_IN_RATE_LIMIT="1000 per minute", VERIFY_RATE_LIMIT="10000 per minute")
    with snapshot.app.app_context():
        limiter.reset()
    yield snapshot.app
    with snapshot.app.app_context():
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> CsrfClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask):
    """A SQLAlchemy session of its own, for service tests and for checking what the views wrote.

    It deliberately holds no app context: a test-client request inside an open app context would share `g`
    (and the signed-in user) with the previous request, hiding authorization bugs."""
    with app.app_context():
        engine = db.engine
    own = Session(engine)
    yield own
    own.rollback()
    own.close()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


# Sign-in helpers shared by the view tests.
SEAL_A_CARD = ("1000000001", "1111")  # "MƏKTƏBİ QURUP", seal authority
NO_SEAL_A_CARD = ("1000000002", "2222")  # insurer A's credential without seal authority
SEAL_B_CARD = ("2000000001", "3333")  # "ŞİRVAN ÇAY", seal authority
SEAL_C_CARD = ("3000000001", "4444")  # individual entrepreneur, seal authority
EXPIRED_CARD = ("9000000001", "6666")
NO_INSURER_CARD = ("9000000002", "7777")
SEAL_A_ASAN = ("+994501234567", "100001")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_path(url: str) -> str:
    """The part of an absolute URL (the app's, or its demo identity provider's) that the test client takes."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


PROVIDER_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def provider_csrf(page) -> str:
    match = PROVIDER_CSRF.search(page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)[:1000]
    return match.group(1) or match.group(2)


def provider_page(client: CsrfClient, method: str = "card"):
    """The demo identity provider's sign-in screen, reached from the app's sign-in button; `.provider_path` is the
    authorization request's path (the screen's forms post to it)."""
    start = client.get("/sign-in/national")
    assert start.status_code == 302, start.get_data(as_text=True)[:1000]
    path = app_path(start.location) + ("&method=asan" if method == "asan" else "")
    page = client.get(path)
    page.provider_path = path
    return page


def _follow_to_the_app(client: CsrfClient, answer):
    """From the provider's answer (a redirect with the code, or its own page) to the app's callback response."""
    if answer.status_code != 302:
        return answer
    return client.get(app_path(answer.location))


def sign_in_card(client: CsrfClient, card: tuple[str, str] = SEAL_A_CARD):
    """Sign in with an e-İmza card at the demo identity provider, as a browser does; returns the app's callback
    response (302 to the insurer page or the insurer choice; a page saying why not), or the provider's own page
    when it refused the card or PIN."""
    page = provider_page(client)
    answer = client.post(page.provider_path, data={"csrf_token": provider_csrf(page), "action": "card",
                                                   "card_number": card[0], "pin": card[1]}, csrf=False)
    return _follow_to_the_app(client, answer)


def start_asan(client: CsrfClient, mobile: str = SEAL_A_ASAN[0], user_id: str = SEAL_A_ASAN[1]):
    """Asan İmza at the demo identity provider: the request sent to the phone (302 to its waiting page)."""
    page = provider_page(client, "asan")
    return client.post(page.provider_path, data={"csrf_token": provider_csrf(page), "action": "asan",
                                                 "mobile_number": mobile, "asan_user_id": user_id}, csrf=False)


def confirm_on_phone(app: Flask, mobile: str, code: str) -> None:
    """The holder taps Təsdiqlə on the demo identity provider's simulated phone (another device) for the request
    showing this code (a sign-in or a signing)."""
    phone = app.test_client()
    panel = phone.get("/demo-idp/asan-phone?mobile=" + quote(mobile.replace(" ", "")))
    page = panel.get_data(as_text=True)
    request = next((form for form in page.split('<form method="post" class="card phone__request">')[1:]
                    if f">{code}</strong>" in form), None)
    assert request is not None, page[:3000]
    token = re.search(r'name="token" value="([^"]+)"', request).group(1)
    confirmed = phone.post("/demo-idp/asan-phone", data={"csrf_token": provider_csrf(panel), "token": token,
                                                         "mobile": mobile}, csrf=False)
    assert "Sorğu təsdiqləndi" in confirmed.get_data(as_text=True)


def sign_in_asan(client: CsrfClient, asan: tuple[str, str] = SEAL_A_ASAN, waiting=None, expected_code=None):
    """Sign in with Asan İmza: the request, its confirmation on the provider's simulated phone (another device),
    and the wait; returns the app's callback response."""
    waiting = waiting or start_asan(client, *asan)
    assert waiting.status_code == 302, waiting.get_data(as_text=True)[:1000]
    wait_path = app_path(waiting.location)
    page = client.get(wait_path).get_data(as_text=True)
    code = re.search(r'class="verification-code"[^>]*>(\d{4})<', page).group(1)
    assert expected_code in (None, code)
    confirm_on_phone(client.application, asan[0], code)
    resumed = client.get(wait_path + "/status")
    assert resumed.status_code == 302, resumed.get_data(as_text=True)[:1000]
    return _follow_to_the_app(client, client.get(app_path(resumed.location)))


@pytest.fixture
def seal_client(client: CsrfClient) -> CsrfClient:
    """A client signed in as insurer A's seal holder."""
    response = sign_in_card(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client
