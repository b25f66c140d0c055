"""Only the configured public host (DOST_PUBLIC_BASE_URL) is ever called official: a forged Host header changes
nothing a user trusts — the header chip, the verification pages' cue, the OpenAPI document, notices' QR codes."""

from __future__ import annotations

import html
import logging

import pytest

from dost.services import notice_pdf
from tests.conftest import build_app, sign_in_card
from tests.staff_support import sign_in_staff
from tests.test_signing import make_notice, token_of

PUBLIC = "https://ssh.dost.gov.az"
FORGED = {"Host": "evil.example"}
CHIP = 'class="official-host"'


@pytest.fixture
def public_url(app):
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    yield PUBLIC
    app.config["PUBLIC_BASE_URL"] = ""


def forged(client, method: str, url: str, **kwargs):
    """A request of the client's session naming another host (sent by hand: the test client, like a browser,
    keeps its cookies per host and would not send them to evil.example)."""
    token = client.csrf_token()
    headers = {**FORGED, "Cookie": f"session={client.get_cookie('session').value}", "X-CSRFToken": token}
    return client.application.test_client(use_cookies=False).open(url, method=method, headers=headers, csrf=False,
                                                                  **kwargs)


def _pages(client, session) -> dict[str, str]:
    """Every kind of page: public, the verification pages, an employer's, a staff user's and an error page."""
    notice = make_notice(session)
    anonymous = {
        "sign-in": "/sign-in", "staff sign-in": "/staff/sign-in", "manual": "/manual", "verify": "/verify",
        "scan": "/verify/scan", "result": f"/v/{token_of(notice)}", "404": "/no-such-page",
    }
    pages = {name: client.get(url, headers=FORGED) for name, url in anonymous.items()}
    pages["checked by number"] = forged(client, "POST", "/verify", data={
        "number": notice.number, "code": notice.verification_code})
    employer = client.application.test_client()
    assert sign_in_card(employer).status_code == 302
    pages["insurer"] = forged(employer, "GET", "/insurer")
    pages["registry"] = forged(employer, "GET", "/ssh/")
    staff = client.application.test_client()
    assert sign_in_staff(staff, "agent.bak1").status_code == 302
    pages["queue"] = forged(staff, "GET", "/staff/")
    for name, response in pages.items():
        assert response.status_code in (200, 404), (name, response.status_code)
    return {name: html.unescape(response.get_data(as_text=True)) for name, response in pages.items()}


def test_without_a_public_url_no_page_calls_any_host_official(client, session):
    for name, page in _pages(client, session).items():
        assert CHIP not in page and "Rəsmi ünvan" not in page, name
        assert "Rəsmi yoxlama ünvanı" not in page, name
        if name != "scan":  # the camera page accepts QR codes of the host it is on (data-official-host)
            assert "evil.example" not in page, name


def test_with_a_public_url_only_its_host_is_official(client, session, public_url):
    pages = _pages(client, session)
    for name, page in pages.items():
        assert 'title="Rəsmi ünvan">ssh.dost.gov.az</span>' in page, name
        # The forged host appears only in the verification pages' warning that this is not the official address.
        without_warning = page.replace("Bu səhifə rəsmi ünvanda açılmayıb (evil.example).", "")
        assert "evil.example" not in without_warning, name
    for name in ("verify", "scan", "result", "checked by number"):
        cue = 'Rəsmi yoxlama ünvanı: <strong class="verify-official__host">ssh.dost.gov.az</strong>'
        assert cue in pages[name], name
        assert "Bu səhifə rəsmi ünvanda açılmayıb (evil.example)." in pages[name], name
    assert 'data-official-host="ssh.dost.gov.az"' in pages["scan"]


def test_the_official_host_itself_gets_no_warning(client, session, public_url):
    notice = make_notice(session)
    for host in ("ssh.dost.gov.az", "SSH.Dost.Gov.AZ", "ssh.dost.gov.az:443"):
        page = html.unescape(client.get(f"/v/{token_of(notice)}", headers={"Host": host},
                                        base_url="https://ssh.dost.gov.az").get_data(as_text=True))
        assert "Rəsmi yoxlama ünvanı" in page and "rəsmi ünvanda açılmayıb" not in page, host


def test_the_openapi_document_names_only_the_configured_host(client, app):
    described = client.get("/api/v1/openapi.json", headers=FORGED).get_json()["info"]["description"]
    assert "evil.example" not in described and "official host" not in described
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    try:
        described = client.get("/api/v1/openapi.json", headers=FORGED).get_json()["info"]["description"]
    finally:
        app.config["PUBLIC_BASE_URL"] = ""
    assert "The official host is ssh.dost.gov.az." in described and "evil.example" not in described


def test_notices_confirmed_through_a_forged_host_carry_the_public_url(client, session, public_url, monkeypatch):
    """The QR code printed in a notice is the configured address, whatever Host the confirming request named."""
    from tests.test_applications import employee

    printed = []
    render = notice_pdf.render_notice
    monkeypatch.setattr(notice_pdf, "render_notice",
                        lambda application, notice, url: printed.append(url) or render(application, notice, url))
    assert sign_in_card(client).status_code == 302
    _, person, certificate = employee(session)
    confirmed = forged(client, "POST", "/ssh/wizard", data={
        "step": "sign", "action": "sign", "document_type": person.document_type.value, "fin": person.fin,
        "ssn": certificate.ssn, "reason": "lost", "application_id": "", "submission_key": "f" * 43, "pin": "1111"})
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    assert len(printed) == 1 and printed[0].startswith(PUBLIC + "/v/"), printed


@pytest.mark.parametrize("value,host", [
    ("https://ssh.dost.gov.az", "ssh.dost.gov.az"),
    ("https://SSH.dost.gov.az/", "ssh.dost.gov.az"),
    ("https://ssh.dost.gov.az:443/", "ssh.dost.gov.az"),
    ("http://ssh.dost.gov.az:80", "ssh.dost.gov.az"),
    ("https://ssh.dost.gov.az:8443", "ssh.dost.gov.az:8443"),
    ("http://[::1]:8000", "[::1]:8000"),
    ("", None), (None, None), ("ssh.dost.gov.az", None), ("ftp://ssh.dost.gov.az", None), ("https://", None),
    ("https://ssh.dost.gov.az:99999", None), ("http://[x", None),
])
def test_configured_host(value, host):
    from dost.blueprints.common import configured_host

    assert configured_host(value) == host


@pytest.fixture
def dost_log(caplog):
    logger = logging.getLogger("dost")
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


@pytest.mark.parametrize("value,warned", [("", True), ("ssh.dost.gov.az", True), (PUBLIC, False)])
def test_operators_are_warned_at_start_up_without_a_public_url(app, tmp_path, dost_log, value, warned):
    dost_log.clear()
    built = build_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, PUBLIC_BASE_URL=value)
    messages = [record.getMessage() for record in dost_log.records
                if record.name == "dost" and record.levelno == logging.WARNING]
    assert any("DOST_PUBLIC_BASE_URL" in message and "QR" in message for message in messages) is warned, messages
    from dost.extensions import db

    with built.app_context():
        db.engine.dispose()
