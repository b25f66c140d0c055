"""The administrator's staff accounts: create with a scope, enrol TOTP, deactivate, unlock, reset the factor."""

import html
import re

import pyotp
import pytest
from sqlalchemy import select

from dost.models import AuditEvent
from dost.services import staff_auth, throttle
from dost.services.errors import DomainError, Forbidden
from dost.timeutil import utcnow
from tests.staff_support import actor, sign_in_staff, staff

NEW = {"username": "agent.bak2", "full_name": "ANAR QULİYEV", "role": "agent", "password": "Yeni-Agent-2026!",
       "centre_id": "", "back_office": "", "region": ""}


@pytest.fixture
def admin_client(client):
    assert sign_in_staff(client, "admin").status_code == 302
    return client


def _centre_id(session, code):
    from sqlalchemy import select

    from dost.models import Centre

    return str(session.scalar(select(Centre.id).where(Centre.code == code)))


@pytest.mark.parametrize("changes,field,message", [
    ({"username": ""}, "username", "İstifadəçi adını daxil edin."),
    ({"username": "Bad Name!"}, "username", "kiçik latın hərfləri"),
    ({"username": "agent.bak1"}, "username", "artıq mövcuddur"),
    ({"full_name": ""}, "full_name", "adını daxil edin"),
    ({"role": "emperor"}, "role", "Rolu seçin."),
    ({"password": "short"}, "password", "ən azı 12 simvol"),
    ({}, "centre_id", "DOST mərkəzini seçin"),
    ({"role": "backoffice"}, "back_office", "Arxa ofisi seçin."),
    ({"role": "supervisor", "region": "Atlantis"}, "region", "regionunu seçin"),
])
def test_bad_account_input_is_explained_beside_the_field(admin_client, changes, field, message):
    response = admin_client.post("/staff/admin/users", data={**NEW, **changes})
    assert response.status_code == 400
    error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert error and message in html.unescape(error.group(1))


def test_new_account_is_enrolled_and_signs_in(admin_client, client, session, app):
    response = admin_client.post("/staff/admin/users", data={**NEW, "centre_id": _centre_id(session, "BAK2")})
    page = response.get_data(as_text=True)
    assert response.status_code == 201 and "<svg" in page and " style=" not in page
    secret = re.search(r'<dd class="mono">([A-Z2-7]{16,})</dd>', page).group(1)
    admin_client.post("/staff/sign-out")
    response = client.post("/staff/sign-in", data={"username": "agent.bak2", "password": NEW["password"],
                                                   "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert "2 saylı Bakı DOST Mərkəzi" in client.get("/staff/").get_data(as_text=True)


def _lock(session, username: str) -> None:
    """Five failed sign-ins: the user name is locked."""
    for _ in range(5):
        with pytest.raises(DomainError):
            staff_auth.sign_in(session, username, "wrong-password", "123456", utcnow())
    session.commit()
    assert throttle.locked(session, [throttle.staff(username)], utcnow())


def test_reset_totp_replaces_the_secret_and_lifts_a_lockout(session):
    admin = actor(session, "admin")
    user = staff(session, "agent.sum")
    old_secret = user.totp_secret
    _lock(session, "agent.sum")
    user.last_totp_step = 10**9
    _, secret = staff_auth.reset_totp(session, admin, user.id)
    assert secret != old_secret and user.totp_secret == secret
    assert user.last_totp_step is None
    assert throttle.locked(session, [throttle.staff("agent.sum")], utcnow()) == {}
    session.commit()
    with pytest.raises(DomainError):
        staff_auth.sign_in(session, "agent.sum", "Agent-Sumqayit-2026", pyotp.TOTP(old_secret).now(), utcnow())
    assert staff_auth.sign_in(session, "agent.sum", "Agent-Sumqayit-2026", pyotp.TOTP(secret).now(), utcnow())


def test_deactivate_unlock_and_self_protection_through_the_pages(admin_client, session):
    user = staff(session, "agent.sum")
    _lock(session, "agent.sum")
    page = html.unescape(admin_client.get("/staff/admin/users").get_data(as_text=True))
    assert "Bloklanıb" in page and "Bloku götür" in page
    assert admin_client.post(f"/staff/admin/users/{user.id}/unlock").status_code == 302
    assert throttle.locked(session, [throttle.staff("agent.sum")], utcnow()) == {}
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "staff.unlocked")).object_id == user.id
    assert "Bloku götür" not in admin_client.get("/staff/admin/users").get_data(as_text=True)
    assert admin_client.post(f"/staff/admin/users/{user.id}/deactivate").status_code == 302
    session.expire_all()
    assert staff(session, "agent.sum").active is False
    me = staff(session, "admin")
    response = admin_client.post(f"/staff/admin/users/{me.id}/deactivate", follow_redirects=True)
    assert "Öz hesabınızı deaktiv edə bilməzsiniz." in html.unescape(response.get_data(as_text=True))
    assert admin_client.post("/staff/admin/users/999999/deactivate").status_code == 404
    response = admin_client.post(f"/staff/admin/users/{user.id}/reset-totp")
    assert response.status_code == 200 and "TOTP açarı" in html.unescape(response.get_data(as_text=True))


def test_only_the_administrator_manages_accounts(session):
    with pytest.raises(Forbidden):
        staff_auth.create_user(session, actor(session, "supervisor.baki"), staff_auth.NewStaff(**{
            k: v for k, v in NEW.items() if k in ("username", "full_name", "role", "password")}))
    with pytest.raises(Forbidden):
        staff_auth.reset_totp(session, actor(session, "agent.bak1"), staff(session, "agent.sum").id)
