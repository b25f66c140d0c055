"""The demo providers (the identity provider at /demo-idp, whose screens sign anyone in as any demo e-signature,
and the simulated Asan İmza phones) are off unless DOST_DEMO_PROVIDERS=1 turns them on, and while they are on
every page says so. With neither a national login nor the demo provider, the app refuses to start."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from dost import config, create_app
from dost.extensions import db
from tests.conftest import build_app, sign_in_card
from tests.staff_support import sign_in_staff

ROOT = Path(__file__).resolve().parent.parent
BANNER = "Demo rejimi: sınaq imza provayderi qoşulub. Bu, real istifadə üçün sistem deyil"
IDP_BANNER = "Demo identifikasiya provayderi: milli giriş sistemini (e-gov.az) əvəz edən sınaq xidməti."


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


# A production configuration: a national login, no demo provider (its issuer is never called by these tests).
NATIONAL_LOGIN = {"OIDC_ISSUER": "https://login.example.az", "OIDC_CLIENT_ID": "dost-ssh",
                  "OIDC_CLIENT_SECRET": "secret"}


@pytest.fixture
def default_app(app, tmp_path, monkeypatch):
    """The app as deployed (the suite's own app turns the demo providers on), on the test database."""
    monkeypatch.delenv("DOST_DEMO_PROVIDERS", raising=False)
    built = build_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, DEMO_PROVIDERS=False, **NATIONAL_LOGIN)
    assert built.config["DEMO_PROVIDERS"] is False
    yield built
    with built.app_context():
        db.session.remove()
        db.engine.dispose()


def test_off_the_phones_and_the_identity_provider_are_404_and_no_page_mentions_them(default_app):
    client = default_app.test_client()
    for url in ("/demo-idp/asan-phone?mobile=%2B994501234567",
                "/demo-idp/.well-known/openid-configuration", "/demo-idp/authorize"):
        for method in ("GET", "POST"):
            response = client.open(url, method=method, data={"token": "x"})
            assert response.status_code in (404, 405), (url, method)
    pages = [client.get(url) for url in ("/sign-in", "/verify", "/staff/sign-in", "/nowhere")]
    staff = default_app.test_client()
    assert sign_in_staff(staff, "admin").status_code == 302
    pages += [staff.get(url) for url in ("/staff/", "/staff/admin/users")]
    for page in pages:
        text = html.unescape(page.get_data(as_text=True))
        assert "asan-phone" not in text and BANNER not in text and "demo-banner" not in text, page.request.path
        assert "demo-idp" not in text, page.request.path


def test_without_a_national_login_or_the_demo_provider_the_app_refuses_to_start(app, tmp_path):
    for settings in ({"DEMO_PROVIDERS": False}, {"DEMO_PROVIDERS": True, "DEMO_IDP_ISSUER": ""}):
        with pytest.raises(RuntimeError, match="DOST_OIDC_ISSUER.*DOST_DEMO_IDP_ISSUER"):
            create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "x",
                        "AUDIT_KEY": "k" * 40, "AUDIT_CHECKPOINT_FILE": str(tmp_path / "c.jsonl"), **settings})
    # The demo provider needs the demo switch too: an issuer alone serves nothing.
    with pytest.raises(RuntimeError, match="No national login"):
        create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "x",
                    "AUDIT_KEY": "k" * 40, "AUDIT_CHECKPOINT_FILE": str(tmp_path / "c.jsonl"),
                    "DEMO_PROVIDERS": False, "DEMO_IDP_ISSUER": "http://127.0.0.1:5000/demo-idp"})


def test_on_every_page_says_so(app, client, session):
    """Employer, staff, verification, public and error pages, full pages and the banner's live region."""
    from tests.test_signing import make_notice, token_of

    assert app.config["DEMO_PROVIDERS"] is True
    notice = make_notice(session)
    anonymous = ["/sign-in", "/staff/sign-in", "/verify", "/verify/scan", f"/v/{token_of(notice)}", "/manual",
                 "/nowhere", "/demo-idp/asan-phone"]
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
        banner = IDP_BANNER if page.request.path.startswith("/demo-idp") else BANNER
        assert 'class="demo-banner" role="status"' in header and banner in header, page.request.path


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
    assert "Demo signature provider: ON" in output
    assert f"{app.config['DEMO_IDP_ISSUER']}/asan-phone" in output


def test_make_run_turns_it_on_and_the_readme_says_so():
    makefile = (ROOT / "Makefile").read_text()
    assert "run: export DOST_DEMO_PROVIDERS ?= 1" in makefile
    assert "run: export DOST_DEMO_IDP_ISSUER ?= http://127.0.0.1:$(PORT)/demo-idp" in makefile
    readme = (ROOT / "README.md").read_text()
    assert "DOST_DEMO_PROVIDERS=1" in readme
