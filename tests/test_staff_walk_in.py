"""Walk-in applications: an agent registers one at the centre, in person or through a representative."""

import html
import re

import pytest
from sqlalchemy import select

from dost.models import Application, ApplicationStatus, Certificate, CertificateStatus, Channel
from tests.staff_support import INSURER_A, employees, sign_in_staff


@pytest.fixture
def agent_client(client):
    assert sign_in_staff(client, "agent.bak1").status_code == 302
    return client


def _identity(session, person=None):
    person = person or employees(session)[0]
    certificate = session.scalar(select(Certificate).where(Certificate.person_id == person.id,
                                                           Certificate.status == CertificateStatus.ACTIVE))
    return person, {"document_type": person.document_type.value, "fin": person.fin, "ssn": certificate.ssn}


def _error(response, field):
    match = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)[:3000]
    return html.unescape(match.group(1))


def test_lookup_shows_the_registry_record(agent_client, session):
    person, identity = _identity(session)
    response = agent_client.post("/staff/walk-in", data={**identity, "op": "lookup", "mode": "in_person"})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and f"{person.surname} {person.name} {person.patronymic}" in page
    assert session.scalar(select(Application)) is None


def test_in_person_walk_in_is_submitted_at_the_centre_with_a_notice(agent_client, session):
    person, identity = _identity(session)
    response = agent_client.post("/staff/walk-in", data={**identity, "reason": "lost", "mode": "in_person",
                                                         "op": "register"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    application = session.scalar(select(Application).where(Application.person_id == person.id))
    assert application.status == ApplicationStatus.SUBMITTED and application.channel == Channel.WALK_IN
    assert application.centre.code == "BAK1" and application.insurer_id is None
    assert application.registration_number and application.deadline
    page = html.unescape(agent_client.get(response.location).get_data(as_text=True))
    assert "Müraciət qeydə alındı" in page and "Bildirişi çap et (PDF)" in page
    pdf = agent_client.get(f"/staff/applications/{application.id}/notice.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    # It is this centre's application: another centre's agent cannot see it or its notice.
    agent_client.post("/staff/sign-out")
    sign_in_staff(agent_client, "agent.sum")
    assert agent_client.get(f"/staff/applications/{application.id}/notice.pdf").status_code == 404


def test_through_a_representative_the_document_is_recorded(agent_client, session):
    person, identity = _identity(session)
    data = {**identity, "reason": "damaged", "mode": "representative", "op": "register",
            "representative_name": "RÜSTƏMOV ANAR VAQİF OĞLU", "representative_fin": "1ab2cd3",
            "representative_document": "Etibarnamə № 123, 01.11.2026, Bakı 5 saylı notariat"}
    assert agent_client.post("/staff/walk-in", data=data).status_code == 302
    application = session.scalar(select(Application).where(Application.person_id == person.id))
    assert application.representative_fin == "1AB2CD3"
    assert application.representative_document.startswith("Etibarnamə № 123")


@pytest.mark.parametrize("changes,field,message", [
    ({"fin": ""}, "fin", "FİN-i daxil edin."),
    ({"ssn": "12"}, "ssn", "13 rəqəm"),
    ({"reason": ""}, "reason", "səbəbini seçin"),
    ({"voen": "12ab"}, "voen", "10 rəqəm"),
    ({"voen": "1234567891"}, "voen", "tapılmadı"),
    ({"mode": "representative", "representative_name": "", "representative_fin": "X",
      "representative_document": ""}, "representative_document", "Etibarnamə"),
])
def test_bad_walk_in_input_is_explained_beside_the_field(agent_client, session, changes, field, message):
    _, identity = _identity(session)
    data = {**identity, "reason": "lost", "mode": "in_person", "op": "register", **changes}
    response = agent_client.post("/staff/walk-in", data=data)
    assert response.status_code == 400 and message in _error(response, field)
    assert session.scalar(select(Application)) is None


def test_employer_rule_applies_when_the_employer_is_named(agent_client, session):
    person, identity = _identity(session, employees(session, employed=False)[0])
    response = agent_client.post("/staff/walk-in", data={**identity, "reason": "lost", "mode": "in_person",
                                                         "voen": INSURER_A, "op": "register"})
    assert response.status_code == 400 and "əmək müqaviləsi yoxdur" in _error(response, "fin")


def test_only_agents_receive_walk_ins(client):
    sign_in_staff(client, "supervisor.baki")
    assert client.get("/staff/walk-in").status_code == 403
