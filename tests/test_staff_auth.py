"""Staff sign-in: password + TOTP, a code accepted once, the user name's lockout, scopes of the guards, sign-out."""

import html
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from dost.models import AuditEvent, SignInThrottle
from dost.services import staff_auth, throttle
from dost.services.errors import DomainError
from dost.timeutil import utcnow
from tests.conftest import sign_in_card
from tests.staff_support import PASSWORDS, sign_in_staff, staff, totp_code


def _error(page: str, field: str) -> str:
    match = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page, re.S)
    assert match, page[:3000]
    return html.unescape(match.group(1))


def test_sign_in_page_is_in_azerbaijani_with_three_labelled_fields(client):
    page = client.get("/staff/sign-in").get_data(as_text=True)
    assert "DOST əməkdaşları üçün giriş" in page
    for field in ("username", "password", "code"):
        assert f'<label for="{field}">' in page
    assert 'autocomplete="one-time-code"' in page


def test_password_and_code_open_the_queue(client, app):
    response = sign_in_staff(client, "agent.bak1")
    assert response.status_code == 302 and response.location.endswith("/staff/")
    page = client.get("/staff/").get_data(as_text=True)
    assert "Müraciətlərin növbəsi" in page and "LALƏ MƏMMƏDOVA" in page
    # The start page sends signed-in staff to their queue.
    assert client.get("/").location.endswith("/staff/")
    with client.session_transaction() as s:
        assert s["_user_id"].startswith("s:")


def test_anonymous_and_employers_are_sent_to_the_staff_sign_in(client):
    response = client.get("/staff/?status=all")
    assert response.status_code == 302 and "/staff/sign-in" in response.location
    sign_in_card(client)
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/sign-in" in response.location


BAD_INPUT = [
    ({"username": "", "password": "x", "code": "123456"}, "username", "İstifadəçi adını daxil edin."),
    ({"username": "agent.bak1", "password": "", "code": "123456"}, "password", "Şifrəni daxil edin."),
    ({"username": "agent.bak1", "password": "x", "code": ""}, "code", "6 rəqəmli kodu"),
    ({"username": "agent.bak1", "password": "x", "code": "12ab56"}, "code", "6 rəqəmdən"),
    ({"username": "a" * 10_000, "password": "x", "code": "123456"}, "username", "çox uzundur"),
    ({"username": "agent.bak1", "password": "p" * 10_000, "code": "123456"}, "password", "çox uzundur"),
    ({"username": "nobody", "password": "Agent-Baki1-2026", "code": "123456"}, "password", "yanlışdır"),
    ({"username": "agent.bak1", "password": "wrong-password", "code": "123456"}, "password", "yanlışdır"),
]


@pytest.mark.parametrize("data,field,message", BAD_INPUT)
def test_bad_input_gets_a_message_beside_the_field(client, data, field, message):
    response = client.post("/staff/sign-in", data=data)
    assert response.status_code == 400
    assert message in _error(response.get_data(as_text=True), field)


def test_wrong_code_is_refused_and_counted(client, session):
    wrong = "000000" if totp_code(session, "agent.bak1") != "000000" else "111111"
    response = sign_in_staff(client, "agent.bak1", code=wrong)
    assert response.status_code == 400
    assert "Təsdiq kodu yanlışdır" in _error(response.get_data(as_text=True), "code")
    subject = throttle.staff("agent.bak1")
    assert session.scalar(select(SignInThrottle.failures).where(SignInThrottle.subject == subject)) == 1
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.sign_in_failed")).one()
    assert event.changes == {"reason": "code", "failures": 1}


def test_a_code_is_accepted_once(client, session):
    code = totp_code(session, "agent.bak1")
    assert sign_in_staff(client, "agent.bak1", code=code).status_code == 302
    client.post("/staff/sign-out")
    response = sign_in_staff(client, "agent.bak1", code=code)
    assert response.status_code == 400
    assert "artıq istifadə olunub" in _error(response.get_data(as_text=True), "code")


def test_htmx_bad_input_returns_the_form_fragment(client):
    response = client.post("/staff/sign-in", data={"username": "", "password": "", "code": ""},
                           headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and page.lstrip().startswith("<form") and "<html" not in page


def test_five_failures_lock_the_user_name_for_a_minute(client, session):
    for _attempt in range(1, 6):
        response = client.post("/staff/sign-in", data={"username": "agent.bak1", "password": "wrong-password",
                                                       "code": "123456"})
        assert response.status_code == 400
    message = _error(response.get_data(as_text=True), "password")
    assert "yeni cəhd qəbul olunmur" in message
    # Even the right password and code are refused while locked, before they are checked.
    response = sign_in_staff(client, "agent.bak1")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) <= 60
    assert _error(response.get_data(as_text=True), "password") == message
    subject = throttle.staff("agent.bak1")
    until = throttle.locked(session, [subject], utcnow())[subject]
    assert utcnow() + timedelta(seconds=50) < until <= utcnow() + timedelta(minutes=1)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.locked")).one()
    assert event.changes["failures"] == 5


def test_lockout_ends_by_itself_and_grows_with_each_further_failure(session):
    now = utcnow()
    for _ in range(5):
        with pytest.raises(DomainError):
            staff_auth.sign_in(session, "agent.bak1", "wrong-password", "123456", now)
    with pytest.raises(throttle.Throttled):
        staff_auth.sign_in(session, "agent.bak1", PASSWORDS["agent.bak1"], "123456", now + timedelta(seconds=59))
    # After the minute one more failure locks the name for two.
    later = now + timedelta(minutes=1)
    with pytest.raises(DomainError) as failed:
        staff_auth.sign_in(session, "agent.bak1", "wrong-password", "123456", later)
    assert failed.value.code == "throttled" and failed.value.status_code == 400
    with pytest.raises(throttle.Throttled):
        staff_auth.sign_in(session, "agent.bak1", "wrong-password", "123456", later + timedelta(seconds=119))
    latest = later + timedelta(minutes=2)
    code = pyotp.TOTP(staff(session, "agent.bak1").totp_secret).at(latest)
    user = staff_auth.sign_in(session, "agent.bak1", PASSWORDS["agent.bak1"], code, latest)
    assert user.username == "agent.bak1"
    # The success forgets the failures.
    assert session.scalar(select(SignInThrottle)) is None


def test_deactivated_account_cannot_sign_in_and_its_session_ends(client, session):
    assert sign_in_staff(client, "agent.sum").status_code == 302
    user = staff(session, "agent.sum")
    user.active = False
    session.commit()
    assert client.get("/staff/").status_code == 302
    response = sign_in_staff(client, "agent.sum")
    assert response.status_code == 400 and "deaktiv" in _error(response.get_data(as_text=True), "username")


def test_sign_out_ends_the_session_and_is_audited(client, session):
    sign_in_staff(client, "backoffice.dsmf")
    response = client.post("/staff/sign-out")
    assert response.status_code == 302 and "/staff/sign-in" in response.location
    assert client.get("/staff/").status_code == 302
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.sign_out")) is not None


def test_next_only_returns_to_staff_pages(client):
    response = client.post("/staff/sign-in?next=https://evil.example/", data={})
    assert response.status_code == 400
    response = sign_in_staff(client, "agent.bak1")
    assert response.location.endswith("/staff/")


def test_a_copied_staff_session_cookie_is_dead_after_sign_out(app, client):
    sign_in_staff(client, "backoffice.dsmf")
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/staff/").status_code == 200
    client.post("/staff/sign-out")
    response = copy.get("/staff/")
    assert response.status_code == 302 and "/staff/sign-in" in response.location
