"""Helpers for the staff back-office tests: submitted applications inserted directly, staff actors and sign-in."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time

import pyotp
from sqlalchemy import select

from dost.demo import STAFF
from dost.models import (
    Application,
    ApplicationReason,
    ApplicationStatus,
    ApplicationStatusChange,
    ApplicationType,
    Centre,
    Certificate,
    CertificateStatus,
    Channel,
    EmploymentContract,
    Insurer,
    Person,
    ServiceCode,
    StaffUser,
)
from dost.services.actors import Actor
from dost.services.deadlines import deadlines_for
from dost.timeutil import BAKU, utcnow
from dost.validation import search_key

INSURER_A = "9802091761"  # "MƏKTƏBİ QURUP": local DSMF office 188 → 1 saylı Bakı DOST Mərkəzi
INSURER_B = "1403558271"  # "ŞİRVAN ÇAY": office 101 → Sumqayıt DOST Mərkəzi
PASSWORDS = {username: password for username, *_rest, password in STAFF}
_numbers = itertools.count(1)


def insurer(session, voen: str = INSURER_A) -> Insurer:
    return session.scalar(select(Insurer).where(Insurer.voen == voen))


def employees(session, voen: str = INSURER_A, employed: bool = True) -> list[Person]:
    """People with a contract at the insurer: current ones, or ended ones."""
    condition = EmploymentContract.end_date.is_(None) if employed else EmploymentContract.end_date.is_not(None)
    return list(session.scalars(
        select(Person).join(EmploymentContract, EmploymentContract.person_id == Person.id)
        .where(EmploymentContract.insurer_id == insurer(session, voen).id, condition).order_by(Person.id)
    ))


def submit(session, person: Person | None = None, voen: str | None = INSURER_A, on: date = date(2026, 11, 2),
           status: ApplicationStatus = ApplicationStatus.SUBMITTED, centre_code: str | None = None,
           deadline: date | None = None, application_type: ApplicationType = ApplicationType.DUPLICATE,
           registration_number: str | None = None) -> Application:
    """A confirmed application as the employer service would leave it (until that service is used here)."""
    owner = insurer(session, voen) if voen else None
    if person is None:
        person = employees(session, voen or INSURER_A)[0]
    certificate = session.scalar(select(Certificate).where(Certificate.person_id == person.id,
                                                           Certificate.status == CertificateStatus.ACTIVE))
    centre = session.scalar(select(Centre).where(Centre.code == centre_code)) if centre_code else None
    limits = deadlines_for(session, ServiceCode.SSN_CERTIFICATE, on)
    number = next(_numbers)
    application = Application(
        insurer_id=owner.id if owner else None,
        person_id=person.id,
        certificate_id=certificate.id,
        channel=Channel.WALK_IN if centre else Channel.ONLINE,
        centre_id=centre.id if centre else None,
        document_type=person.document_type,
        reason=ApplicationReason.LOST if application_type == ApplicationType.DUPLICATE
        else ApplicationReason.DOCUMENT_CHANGED,
        application_type=application_type,
        status=status,
        fin=person.fin,
        ssn=certificate.ssn,
        ssn_date=certificate.issue_date,
        surname=person.surname,
        name=person.name,
        patronymic=person.patronymic,
        surname_key=search_key(person.surname),
        name_key=search_key(person.name),
        patronymic_key=search_key(person.patronymic),
        application_date=on,
        registration_number=registration_number or f"TEST-{number:05d}-{person.id}",
        submitted_at=datetime.combine(on, time(10, 0), tzinfo=BAKU).astimezone(UTC),
        deadline=deadline or limits.total,
        front_office_deadline=limits.front_office,
        open_key=f"test:{person.id}:{owner.id if owner else 'self'}:{number}",
        version=1,
    )
    session.add(application)
    session.flush()
    session.add(ApplicationStatusChange(application_id=application.id, status=ApplicationStatus.SUBMITTED,
                                        at=utcnow(), actor_label="SƏMİR QƏLƏYEV NƏZƏR OĞLU", note=None))
    session.flush()
    return application


def staff(session, username: str) -> StaffUser:
    return session.scalar(select(StaffUser).where(StaffUser.username == username))


def actor(session, username: str) -> Actor:
    """The service-layer actor of a demo staff user."""
    user = staff(session, username)
    return Actor(kind="staff", label=user.full_name, staff_user_id=user.id, role=user.role.value,
                 authority=user.role.value)


def totp_code(session, username: str, at: datetime | None = None) -> str:
    user = staff(session, username)
    return pyotp.TOTP(user.totp_secret).at(at or utcnow())


def sign_in_staff(client, username: str, password: str | None = None, code: str | None = None):
    """Sign in through the form; returns the response."""
    from dost.extensions import db

    with client.application.app_context():
        code = code or totp_code(db.session, username)
        db.session.remove()
    return client.post("/staff/sign-in", data={"username": username, "password": password or PASSWORDS[username],
                                               "code": code})


def ready_and_refused(session, on: date):
    """One application of insurer A taken to ready and one refused (with a ground and a comment), committed."""
    from dost.services import processing

    agent, office = actor(session, "agent.bak1"), actor(session, "backoffice.dsmf")
    people = employees(session)
    ready = submit(session, person=people[0])
    processing.verify(session, agent, ready.id, 1, on)
    processing.order(session, agent, ready.id, 2, on)
    processing.mark_ready(session, office, ready.id, 3)
    refused = submit(session, person=people[1])
    processing.refuse(session, agent, refused.id, 1, "no_legal_basis", "Şəxs bu sığortaedənin işçisi deyil")
    session.commit()
    return ready, refused
