"""Embedded registry adapters on the application's own database (demo and tests)."""

from __future__ import annotations

import functools
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from dost.models import (
    AsanRequestStatus,
    AsanSignInRequest,
    Certificate,
    CertificateStatus,
    Credential,
    CredentialKind,
    EmploymentContract,
    Person,
)
from dost.registries.interfaces import (
    AsanChallenge,
    CertificateRecord,
    CredentialRecord,
    PersonRecord,
    SignatureError,
)
from dost.services.passwords import check_password, hash_password
from dost.timeutil import as_utc, utcnow


def person_record(person: Person) -> PersonRecord:
    return PersonRecord(
        person_id=person.id,
        fin=person.fin,
        document_type=person.document_type,
        document_number=person.document_number,
        surname=person.surname,
        name=person.name,
        patronymic=person.patronymic,
        gender=person.gender,
        citizenship=person.citizenship,
        birthplace=person.birthplace,
        birth_date=person.birth_date,
        issuing_authority=person.issuing_authority,
        issue_date=person.issue_date,
    )


def certificate_record(certificate: Certificate) -> CertificateRecord:
    return CertificateRecord(
        certificate_id=certificate.id,
        ssn=certificate.ssn,
        person_id=certificate.person_id,
        issue_date=certificate.issue_date,
        status=certificate.status,
    )


def credential_record(credential: Credential) -> CredentialRecord:
    return CredentialRecord(
        credential_id=credential.id,
        kind=credential.kind,
        fin=credential.fin,
        holder_name=credential.holder_name,
        valid_from=credential.valid_from,
        valid_until=credential.valid_until,
        card_number=credential.card_number,
        mobile_number=credential.mobile_number,
    )


def hash_pin(pin: str) -> str:
    """Argon2 hash of a demo card PIN."""
    return hash_password(pin)


class EmbeddedPopulationRegistry:
    def __init__(self, session: Session):
        self.session = session

    def find_by_fin(self, fin: str) -> PersonRecord | None:
        person = self.session.scalar(select(Person).where(Person.fin == fin))
        return person_record(person) if person else None


class EmbeddedEmploymentRegistry:
    def __init__(self, session: Session):
        self.session = session

    def is_employed(self, insurer_id: int, person_id: int, on: date) -> bool:
        contract = self.session.scalar(
            select(EmploymentContract.id).where(
                EmploymentContract.insurer_id == insurer_id,
                EmploymentContract.person_id == person_id,
                EmploymentContract.start_date <= on,
                or_(EmploymentContract.end_date.is_(None), EmploymentContract.end_date >= on),
            ).limit(1)
        )
        return contract is not None


class EmbeddedCertificateMonitoring:
    def __init__(self, session: Session):
        self.session = session

    def find_by_ssn(self, ssn: str) -> CertificateRecord | None:
        # The newest certificate with this number; a cancelled order never became one.
        certificate = self.session.scalar(
            select(Certificate)
            .where(Certificate.ssn == ssn, Certificate.status != CertificateStatus.CANCELLED)
            .order_by(Certificate.id.desc())
            .limit(1)
        )
        return certificate_record(certificate) if certificate else None

    def current_for_person(self, person_id: int) -> CertificateRecord | None:
        certificate = self.session.scalar(
            select(Certificate)
            .where(Certificate.person_id == person_id, Certificate.status == CertificateStatus.ACTIVE)
            .order_by(Certificate.id.desc())
            .limit(1)
        )
        return certificate_record(certificate) if certificate else None

    def ordered_for_person(self, person_id: int) -> CertificateRecord | None:
        certificate = self.session.scalar(
            select(Certificate)
            .where(Certificate.person_id == person_id, Certificate.status == CertificateStatus.ORDERED)
            .order_by(Certificate.id)
            .limit(1)
        )
        return certificate_record(certificate) if certificate else None

    def order_replacement(self, certificate_id: int, on: date) -> CertificateRecord:
        old = self.session.get_one(Certificate, certificate_id)
        # The SSN stays the person's for life; the new certificate carries the same number.
        new = Certificate(ssn=old.ssn, person_id=old.person_id, issue_date=on, status=CertificateStatus.ORDERED)
        self.session.add(new)
        self.session.flush()
        return certificate_record(new)

    def activate_replacement(self, old_certificate_id: int, new_certificate_id: int) -> None:
        old = self.session.get_one(Certificate, old_certificate_id)
        new = self.session.get_one(Certificate, new_certificate_id)
        old.status = CertificateStatus.REPLACED
        old.replaced_by_id = new.id
        new.status = CertificateStatus.ACTIVE
        self.session.flush()

    def cancel_replacement(self, new_certificate_id: int) -> None:
        new = self.session.get_one(Certificate, new_certificate_id)
        if new.status == CertificateStatus.ORDERED:
            new.status = CertificateStatus.CANCELLED
            self.session.flush()


@functools.cache
def _unknown_card_hash() -> str:
    return hash_pin(secrets.token_hex(16))


class DemoSignatureProvider:
    """Signature provider backed by the credential table: PINs are argon2 hashes, Asan confirmations are rows.
    Where the demo identity provider is served, it signs instead (dost.registries.demo_remote), on its own phone."""

    def __init__(self, session: Session):
        self.session = session

    def check_card(self, card_number: str, pin: str) -> CredentialRecord:
        credential = self.session.scalar(
            select(Credential).where(
                Credential.kind == CredentialKind.CARD, Credential.card_number == card_number
            )
        )
        if credential is None or credential.pin_hash is None:
            # The same hashing work as for a real card: the time taken tells no one which card numbers exist.
            check_password(_unknown_card_hash(), pin)
            raise SignatureError("unknown")
        if not check_password(credential.pin_hash, pin):
            raise SignatureError("wrong_secret")
        return credential_record(credential)

    def find_credential(self, kind: CredentialKind, identifier: str) -> CredentialRecord | None:
        column = Credential.card_number if kind == CredentialKind.CARD else Credential.mobile_number
        credential = self.session.scalar(
            select(Credential).where(Credential.kind == kind, column == identifier).limit(1)
        )
        return credential_record(credential) if credential else None

    def start_asan(self, credential_id: int, purpose: str) -> AsanChallenge:
        request = AsanSignInRequest(
            token=secrets.token_urlsafe(32),
            credential_id=credential_id,
            verification_code=f"{secrets.randbelow(10000):04d}",
            purpose=purpose,
            created_at=utcnow(),
        )
        self.session.add(request)
        self.session.flush()
        return AsanChallenge(request.token, request.verification_code, request.created_at)

    def asan_state(self, token: str, now: datetime, timeout_seconds: int) -> tuple[str, int | None]:
        request = self.session.scalar(select(AsanSignInRequest).where(AsanSignInRequest.token == token))
        if request is None:
            return "unknown", None
        if request.status == AsanRequestStatus.USED:
            return "unknown", None
        if request.status == AsanRequestStatus.CONFIRMED:
            # Consume it atomically: two polls racing for the same confirmation sign in once.
            taken = self.session.execute(
                update(AsanSignInRequest)
                .where(
                    AsanSignInRequest.id == request.id,
                    AsanSignInRequest.status == AsanRequestStatus.CONFIRMED,
                )
                .values(status=AsanRequestStatus.USED)
            ).rowcount
            return ("confirmed", request.credential_id) if taken == 1 else ("unknown", None)
        if now - as_utc(request.created_at) > timedelta(seconds=timeout_seconds):
            return "expired", None
        return "pending", None
