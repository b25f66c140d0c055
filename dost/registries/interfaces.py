"""Interfaces of the external registries and signature providers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from dost.models import CertificateStatus, CredentialKind, DocumentType, Gender


@dataclass(frozen=True)
class PersonRecord:
    """A population registry record (read-only)."""

    person_id: int
    fin: str
    document_type: DocumentType
    document_number: str
    surname: str
    name: str
    patronymic: str
    gender: Gender
    citizenship: str
    birthplace: str
    birth_date: date
    issuing_authority: str
    issue_date: date


@dataclass(frozen=True)
class CertificateRecord:
    certificate_id: int
    ssn: str
    person_id: int
    issue_date: date
    status: CertificateStatus


@dataclass(frozen=True)
class CredentialRecord:
    """An e-signature certificate as the provider knows it."""

    credential_id: int
    kind: CredentialKind
    fin: str
    holder_name: str
    valid_from: date
    valid_until: date
    card_number: str | None
    mobile_number: str | None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on <= self.valid_until


@dataclass(frozen=True)
class AsanChallenge:
    token: str
    verification_code: str
    created_at: datetime


class PopulationRegistry(Protocol):
    def find_by_fin(self, fin: str) -> PersonRecord | None: ...


class EmploymentRegistry(Protocol):
    def is_employed(self, insurer_id: int, person_id: int, on: date) -> bool: ...


class CertificateMonitoring(Protocol):
    def find_by_ssn(self, ssn: str) -> CertificateRecord | None: ...

    def current_for_person(self, person_id: int) -> CertificateRecord | None: ...

    def ordered_for_person(self, person_id: int) -> CertificateRecord | None:
        """A replacement ordered for the person and not yet handed over or cancelled."""

    def order_replacement(self, certificate_id: int, on: date) -> CertificateRecord: ...

    def activate_replacement(self, old_certificate_id: int, new_certificate_id: int) -> None: ...

    def cancel_replacement(self, new_certificate_id: int) -> None: ...


class SignatureError(Exception):
    """The provider refused: the code says why (unknown, wrong_secret, expired, timeout)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class SignatureProvider(Protocol):
    def check_card(self, card_number: str, pin: str) -> CredentialRecord:
        """The card's credential if the PIN is right; raises SignatureError."""

    def find_credential(self, kind: CredentialKind, identifier: str) -> CredentialRecord | None:
        """A credential by card number or mobile number, for delegation."""

    def start_asan(self, credential_id: int, purpose: str) -> AsanChallenge:
        """Send a confirmation request to the phone; returns the code the user compares."""

    def asan_state(self, token: str, now: datetime, timeout_seconds: int) -> tuple[str, int | None]:
        """('pending'|'confirmed'|'expired'|'unknown', credential id); a confirmed request is used once."""
