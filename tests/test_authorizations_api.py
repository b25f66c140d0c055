"""GET /api/v1/authorizations for other DSMF services: token auth (only the SHA-256 is stored), JSON answers for
seal holders and delegates, JSON errors for malformed parameters."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from dost.extensions import db
from dost.models import ApiToken, AuditEvent, Credential, ServiceCode
from dost.services import grants
from dost.timeutil import today, utcnow
from tests.test_grants import DELEGATE_A_FIN, SEAL_A, SEAL_A_FIN, VOEN_A, actor_for, make_grant

URL = "/api/v1/authorizations"


@pytest.fixture
def token(app, runner) -> str:
    """A token made the way an administrator makes it: `flask --app app dost api-token NAME`."""
    result = runner.invoke(args=["dost", "api-token", "Hesabatların onlayn qəbulu"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _get(client, token: str | None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(URL, query_string=params, headers=headers)


def _grant(app, **kwargs) -> SimpleNamespace:
    with app.app_context():
        grant = make_grant(db.session, **kwargs)
        return SimpleNamespace(id=grant.id, credential_id=grant.credential_id)


def test_the_cli_prints_the_token_once_and_stores_only_its_hash(app, runner, token):
    assert token.startswith("dost_") and len(token) > 40
    with app.app_context():
        stored = db.session.scalars(select(ApiToken)).all()
        assert [t.token_hash for t in stored] == [hashlib.sha256(token.encode()).hexdigest()]
        assert stored[0].name == "Hesabatların onlayn qəbulu"
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "api_token.created")) is not None
    assert runner.invoke(args=["dost", "api-token", ""]).exit_code != 0


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Token x"])
def test_without_a_valid_token_the_answer_is_401_json(client, token, header):
    headers = {"Authorization": header} if header else {}
    response = client.get(URL, query_string={"voen": VOEN_A, "service": "reports", "fin": SEAL_A_FIN},
                          headers=headers)
    assert response.status_code == 401
    assert response.is_json and response.json["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused(app, client, token):
    with app.app_context():
        db.session.execute(update(ApiToken).values(revoked_at=utcnow()))
        db.session.commit()
    assert _get(client, token, voen=VOEN_A, service="reports", fin=SEAL_A_FIN).status_code == 401


def test_seal_holder_is_allowed_until_the_signature_expires(client, token):
    response = _get(client, token, voen=VOEN_A, service="ssn_certificate", fin=SEAL_A_FIN.lower())
    assert response.status_code == 200 and response.is_json
    assert response.json == {"allowed": True, "grant_id": None, "valid_until": "2029-12-31"}
    assert response.headers["Cache-Control"] == "no-store"


def test_delegate_is_allowed_with_the_grant_and_its_last_day(app, client, token):
    end = today() + timedelta(days=20)
    grant = _grant(app, service=ServiceCode.REPORTS, start=today(), end=end)
    response = _get(client, token, voen=VOEN_A, service="reports", fin=DELEGATE_A_FIN)
    assert response.json == {"allowed": True, "grant_id": grant.id, "valid_until": end.isoformat()}
    other_service = _get(client, token, voen=VOEN_A, service="ssn_certificate", fin=DELEGATE_A_FIN)
    assert other_service.json == {"allowed": False, "grant_id": None, "valid_until": None}
    other_insurer = _get(client, token, voen="1403558271", service="reports", fin=DELEGATE_A_FIN)
    assert other_insurer.json["allowed"] is False
    unknown_insurer = _get(client, token, voen="1234567891", service="reports", fin=DELEGATE_A_FIN)
    assert unknown_insurer.status_code == 200 and unknown_insurer.json["allowed"] is False


def test_indefinite_grant_is_valid_until_the_delegates_signature_expires(app, client, token):
    grant = _grant(app)
    response = _get(client, token, voen=VOEN_A, service="ssn_certificate", fin=DELEGATE_A_FIN)
    assert response.json == {"allowed": True, "grant_id": grant.id, "valid_until": "2029-12-31"}


def test_revoked_expired_and_not_started_grants_do_not_allow(app, client, token):
    grant = _grant(app)
    with app.app_context():
        grants.revoke_grant(db.session, actor_for(db.session, SEAL_A), grant.id)
        db.session.commit()
    assert _get(client, token, voen=VOEN_A, service="ssn_certificate", fin=DELEGATE_A_FIN).json["allowed"] is False
    _grant(app, service=ServiceCode.REPORTS, start=today() + timedelta(days=2), end=today() + timedelta(days=9))
    assert _get(client, token, voen=VOEN_A, service="reports", fin=DELEGATE_A_FIN).json["allowed"] is False
    later = _grant(app, service=ServiceCode.DEATH_NOTICE)
    with app.app_context():
        db.session.execute(update(Credential).where(Credential.id == later.credential_id)
                           .values(valid_until=today() - timedelta(days=1)))
        db.session.commit()
    assert _get(client, token, voen=VOEN_A, service="death_notice", fin=DELEGATE_A_FIN).json["allowed"] is False


BAD_PARAMETERS = [
    ({"service": "reports", "fin": SEAL_A_FIN}, "voen"),
    ({"voen": "98020917", "service": "reports", "fin": SEAL_A_FIN}, "voen"),
    ({"voen": "9802091763", "service": "reports", "fin": SEAL_A_FIN}, "voen"),
    ({"voen": "<script>", "service": "reports", "fin": SEAL_A_FIN}, "voen"),
    ({"voen": VOEN_A, "fin": SEAL_A_FIN}, "service"),
    ({"voen": VOEN_A, "service": "REPORTS' OR 1=1", "fin": SEAL_A_FIN}, "service"),
    ({"voen": VOEN_A, "service": "reports"}, "fin"),
    ({"voen": VOEN_A, "service": "reports", "fin": "5ZK4R9"}, "fin"),
    ({"voen": VOEN_A, "service": "reports", "fin": "F" * 10_000}, "fin"),
]


@pytest.mark.parametrize("params,field", BAD_PARAMETERS)
def test_malformed_parameters_get_a_400_json_naming_the_parameter(client, token, params, field):
    response = _get(client, token, **params)
    assert response.status_code == 400 and response.is_json
    assert response.json["field"] == field and response.json["message"]


def test_other_methods_get_json_and_need_no_csrf_token(client, token):
    response = client.post(URL, headers={"Authorization": f"Bearer {token}"}, csrf=False)
    assert response.status_code == 405 and response.is_json and "GET" in response.headers["Allow"]


def test_the_api_sets_no_session_cookie(client, token):
    response = _get(client, token, voen=VOEN_A, service="reports", fin=SEAL_A_FIN)
    assert "Set-Cookie" not in response.headers
