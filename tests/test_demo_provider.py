"""The demo signature provider (its simulated Asan İmza phone confirms anyone's sign-in) is off unless
DOST_DEMO_PROVIDERS=1 turns it on, and while it is on every page says so."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from dost import config
from dost.extensions import db
from tests.conftest import build_app, sign_in_card
from tests.staff_support import sign_in_staff

ROOT = Path(__file__).resolve().parent.parent
BANNER = "Demo rejimi: sınaq imza provayderi qoşulub. Bu, real istifadə üçün sistem deyil"


def test_the_default_configuration_has_it_off(tmp_path, monkeypatch):
    monkeypatch.delenv("DOST_DEMO_PROVIDERS", raising=False)
    assert config.defaults(str(tmp_path))["DEMO_PROVIDERS"] is False
    assert "DEMO_PROVIDERS" not in config.from_environment()


@pytest.mark.parametrize("value,enabled", [
    ("1", True), ("true", True), ("yes", True), ("TRUE", True), (" Yes ", True), ("on", True),
    ("0", False), ("false", False), ("no", False), ("NO", False), ("off", False),
    ("", None), ("maybe", None), ("2", None),
])
def test_the_environment_variable(monkeypatch, value, enabled):
    monkeypatch.setenv("DOST_DEMO_PROVIDERS", value)
    assert config.from_environment().get("DEMO_PROVIDERS") is enabled


@pytest.fixture
def default_app(app, tmp_path, monkeypatch):
    """The app as configured by default (the suite's own app turns the demo provider on), on the test database."""
    monkeypatch.delenv("DOST_DEMO_PROVIDERS", raising=False)
    built = build_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    assert built.config["DEMO_PROVIDERS"] is False
    yield built
    with built.app_context():
        db.session.remove()
        db.engine.dispose()


def test_off_the_phone_is_404_and_no_page_mentions_it(default_app):
    client = default_app.test_client()
    for method in ("GET", "POST"):
        response = client.open("/demo/asan-phone?mobile=%2B994501234567", method=method, data={"token": "x"})
        assert response.status_code == 404, method
    pages = [client.get(url) for url in ("/sign-in", "/sign-in?method=asan", "/verify", "/staff/sign-in", "/nowhere")]
    assert sign_in_card(client).status_code == 302
    pages += [client.get("/insurer"), client.get("/ssh/")]
    for page in pages:
        text = html.unescape(page.get_data(as_text=True))
        assert "asan-phone" not in text and BANNER not in text and "demo-banner" not in text, page.request.path


def test_off_an_asan_sign_in_cannot_be_confirmed(default_app):
    client = default_app.test_client()
    started = client.post("/sign-in/asan", data={"mobile_number": "+994501234567", "asan_user_id": "100001"})
    assert started.status_code == 302
    phone = default_app.test_client()
    assert phone.get("/demo/asan-phone?mobile=%2B994501234567").status_code == 404
    assert client.get(started.headers["Location"] + "/status").status_code == 200
    assert client.get("/insurer").status_code == 302  # still not signed in


def test_on_every_page_says_so(app, client, session):
    """Employer, staff, verification, public and error pages, full pages and the banner's live region."""
    from tests.test_signing import make_notice, token_of

    assert app.config["DEMO_PROVIDERS"] is True
    notice = make_notice(session)
    anonymous = ["/sign-in", "/staff/sign-in", "/verify", "/verify/scan", f"/v/{token_of(notice)}", "/manual",
                 "/nowhere", "/demo/asan-phone"]
    pages = [client.get(url) for url in anonymous]
    employer = app.test_client()
    assert sign_in_card(employer).status_code == 302
    pages += [employer.get(url) for url in ("/insurer", "/ssh/", "/grants/", "/inbox/", "/ssh/999999")]
    staff = app.test_client()
    assert sign_in_staff(staff, "admin").status_code == 302
    pages += [staff.get(url) for url in ("/staff/", "/staff/reports", "/staff/admin/users")]
    for page in pages:
        text = html.unescape(page.get_data(as_text=True))
        header = text[text.index('<header class="site-header">'):text.index('<div class="site-header__inner">')]
        assert 'class="demo-banner" role="status"' in header and BANNER in header, page.request.path


def test_the_demo_command_says_how_to_turn_it_on(app, runner, monkeypatch):
    from dost import demo

    # Only what the command prints about the provider (loading would write TOTP QR files into the instance folder).
    monkeypatch.setattr(demo, "load", lambda session, instance_path=None: None)
    monkeypatch.setattr(demo, "format_report", lambda report: "report")
    app.config["DEMO_PROVIDERS"] = False
    try:
        output = runner.invoke(args=["dost", "demo", "--if-empty"]).output
    finally:
        app.config["DEMO_PROVIDERS"] = True
    assert "Demo signature provider: OFF" in output and "DOST_DEMO_PROVIDERS=1" in output
    output = runner.invoke(args=["dost", "demo", "--if-empty"]).output
    assert "Demo signature provider: ON" in output and "/demo/asan-phone" in output


def test_make_run_turns_it_on_and_the_readme_says_so():
    makefile = (ROOT / "Makefile").read_text()
    assert "run: export DOST_DEMO_PROVIDERS ?= 1" in makefile
    readme = (ROOT / "README.md").read_text()
    assert "DOST_DEMO_PROVIDERS=1" in readme
