"""SQLAlchemy 2.0 typed models for DOST SSŞ."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dost.timeutil import utcnow


class Base(DeclarativeBase):
    """Declarative base shared by all models; constraint names are fixed so migrations can address them."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _search_key_column(length: int) -> String:
    # Prefix search runs as a range scan; PostgreSQL must compare bytes ("C"), as SQLite's BINARY does.
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the value (not the member name) as a plain VARCHAR with a CHECK, identical on SQLite and PostgreSQL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda members: [m.value for m in members],
    )


class InsurerType(enum.StrEnum):
    LEGAL = "legal"
    INDIVIDUAL = "individual"


class CredentialKind(enum.StrEnum):
    CARD = "card"
    ASAN = "asan"
    SIMA = "sima"

    @property
    def on_mobile(self) -> bool:
        """Asan İmza and SİMA certificates live on a phone, known by its number; a card by its serial."""
        return self is not CredentialKind.CARD


class DocumentType(enum.StrEnum):
    ID_CARD = "din"
    MIGRATION = "migration"


class Gender(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class CertificateStatus(enum.StrEnum):
    ACTIVE = "active"
    REPLACED = "replaced"
    ORDERED = "ordered"
    # An ordered replacement whose application was refused before it was handed over.
    CANCELLED = "cancelled"


class ApplicationReason(enum.StrEnum):
    DOCUMENT_CHANGED = "document_changed"
    LOST = "lost"
    DATA_ERROR = "data_error"
    DAMAGED = "damaged"


class ApplicationType(enum.StrEnum):
    CHANGE = "change"
    DUPLICATE = "duplicate"


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    ORDERED = "ordered"
    READY = "ready"
    DELIVERED = "delivered"
    REFUSED = "refused"


class Channel(enum.StrEnum):
    ONLINE = "online"
    WALK_IN = "walk_in"


class RefusalGround(enum.StrEnum):
    INCOMPLETE_DOCUMENTS = "incomplete_documents"
    NO_LEGAL_BASIS = "no_legal_basis"


class ServiceCode(enum.StrEnum):
    SSN_CERTIFICATE = "ssn_certificate"
    INSURED_REGISTRATION = "insured_registration"
    DEATH_NOTICE = "death_notice"
    REPORTS = "reports"


class CentreCategory(enum.StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class StaffRole(enum.StrEnum):
    AGENT = "agent"
    BACKOFFICE = "backoffice"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class BackOffice(enum.StrEnum):
    DSMF = "01"
    DMX = "02"
    DEMX = "03"
    DTSERX = "04"
    DOST_AGENCY = "05"
    EESMN = "06"


class AsanRequestStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    USED = "used"


class FundOffice(Base):
    __tablename__ = "fund_office"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Insurer(Base):
    __tablename__ = "insurer"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(300))
    insurer_type: Mapped[InsurerType] = mapped_column(_enum(InsurerType, "insurer_type"))
    dsmf_account: Mapped[str] = mapped_column(String(10), unique=True)
    voen: Mapped[str] = mapped_column(String(10), unique=True)
    responsible_person: Mapped[str] = mapped_column(String(200))
    fund_office_id: Mapped[int] = mapped_column(ForeignKey("fund_office.id"))
    # Set at the first sign-in of a seal-authority credential; delegates may only enter after that.
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The REYESTR's total without counting 100,000 rows per page: kept by the database's own triggers on
    # application (APPLICATION_COUNT_TRIGGERS), so every way of adding or deleting an application keeps it exact.
    application_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    fund_office: Mapped[FundOffice] = relationship()


class Credential(Base):
    """An e-signature: an RYTN e-İmza card or an Asan İmza (mobile) certificate."""

    __tablename__ = "credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CredentialKind] = mapped_column(_enum(CredentialKind, "credential_kind"))
    card_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    mobile_number: Mapped[str | None] = mapped_column(String(13), index=True)
    asan_user_id: Mapped[str | None] = mapped_column(String(12))
    fin: Mapped[str] = mapped_column(String(7), index=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    # Demo signature provider: argon2 hash of the card PIN (a real provider checks it on the card).
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    seal_insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurer.id"), index=True)
    # The interface language its holder chose (az, en, ru); applied at sign-in.
    locale: Mapped[str | None] = mapped_column(String(8))
    # ÇIXIŞ: sessions of this e-signature begun before this moment are over (a copied cookie too).
    signed_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    seal_insurer: Mapped[Insurer | None] = relationship()

    __table_args__ = (UniqueConstraint("mobile_number", "asan_user_id", name="uq_credential_asan"),)

    def in_force(self, on: date) -> bool:
        """Whether the e-signature certificate is valid on the given day."""
        return self.valid_from <= on <= self.valid_until

    @property
    def public_label(self) -> str:
        """Card number or mobile number, as shown to users."""
        return self.card_number if self.kind == CredentialKind.CARD else (self.mobile_number or "")


class AsanSignInRequest(Base):
    """A pending Asan İmza confirmation; in the database so every app process sees it."""

    __tablename__ = "asan_sign_in_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("credential.id"))
    verification_code: Mapped[str] = mapped_column(String(4))
    purpose: Mapped[str] = mapped_column(String(20), default="sign_in")
    status: Mapped[AsanRequestStatus] = mapped_column(
        _enum(AsanRequestStatus, "asan_request_status"), default=AsanRequestStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    credential: Mapped[Credential] = relationship()


class Person(Base):
    """A population registry record."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    fin: Mapped[str] = mapped_column(String(7), unique=True)
    document_type: Mapped[DocumentType] = mapped_column(_enum(DocumentType, "document_type"))
    document_number: Mapped[str] = mapped_column(String(20))
    surname: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    patronymic: Mapped[str] = mapped_column(String(100))
    gender: Mapped[Gender] = mapped_column(_enum(Gender, "gender"))
    citizenship: Mapped[str] = mapped_column(String(100))
    birthplace: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    issuing_authority: Mapped[str] = mapped_column(String(200))
    issue_date: Mapped[date] = mapped_column(Date)

    @property
    def full_name(self) -> str:
        return f"{self.surname} {self.name} {self.patronymic}"


class Certificate(Base):
    """A social insurance certificate (SSŞ) with its SSN."""

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    ssn: Mapped[str] = mapped_column(String(13), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    issue_date: Mapped[date] = mapped_column(Date)
    status: Mapped[CertificateStatus] = mapped_column(_enum(CertificateStatus, "certificate_status"))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))

    person: Mapped[Person] = relationship()


class EmploymentContract(Base):
    __tablename__ = "employment_contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurer.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)


class Centre(Base):
    """A DOST centre."""

    __tablename__ = "centre"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[CentreCategory] = mapped_column(_enum(CentreCategory, "centre_category"))
    region: Mapped[str] = mapped_column(String(100))


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str] = mapped_column(String(64))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centre.id"))
    back_office: Mapped[BackOffice | None] = mapped_column(_enum(BackOffice, "back_office"))
    region: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Last accepted TOTP time step: a code is accepted once.
    last_totp_step: Mapped[int | None] = mapped_column(Integer)
    locale: Mapped[str | None] = mapped_column(String(8))
    # Sign-out: this account's sessions begun before this moment are over (a copied cookie too).
    signed_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    centre: Mapped[Centre | None] = relationship()


class Grant(Base):
    """Authority for a service that a seal holder delegates to another credential."""

    __tablename__ = "authority_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurer.id"), index=True)
    service: Mapped[ServiceCode] = mapped_column(_enum(ServiceCode, "service_code"))
    credential_id: Mapped[int] = mapped_column(ForeignKey("credential.id"), index=True)
    indefinite: Mapped[bool] = mapped_column(Boolean, default=True)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("credential.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("credential.id"))

    credential: Mapped[Credential] = relationship(foreign_keys=[credential_id])
    granted_by: Mapped[Credential] = relationship(foreign_keys=[granted_by_id])
    insurer: Mapped[Insurer] = relationship()


class Application(Base):
    """An application for a changed or duplicate certificate."""

    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurer.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"), default=Channel.ONLINE)
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centre.id"), index=True)
    document_type: Mapped[DocumentType] = mapped_column(_enum(DocumentType, "document_type"))
    reason: Mapped[ApplicationReason | None] = mapped_column(_enum(ApplicationReason, "application_reason"))
    application_type: Mapped[ApplicationType | None] = mapped_column(
        _enum(ApplicationType, "application_type")
    )
    status: Mapped[ApplicationStatus] = mapped_column(
        _enum(ApplicationStatus, "application_status"), default=ApplicationStatus.DRAFT
    )
    # Snapshot of the registry record at the time of the application; search runs on the *_key columns.
    fin: Mapped[str] = mapped_column(String(7))
    ssn: Mapped[str] = mapped_column(String(13))
    ssn_date: Mapped[date] = mapped_column(Date)
    surname: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    patronymic: Mapped[str] = mapped_column(String(100))
    surname_key: Mapped[str] = mapped_column(_search_key_column(100))
    name_key: Mapped[str] = mapped_column(_search_key_column(100))
    patronymic_key: Mapped[str] = mapped_column(_search_key_column(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    application_date: Mapped[date] = mapped_column(Date)
    created_by_credential_id: Mapped[int | None] = mapped_column(ForeignKey("credential.id"))
    created_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    # Set at confirmation (signature).
    registration_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_by_credential_id: Mapped[int | None] = mapped_column(ForeignKey("credential.id"))
    signed_authority: Mapped[str | None] = mapped_column(String(40))
    deadline: Mapped[date | None] = mapped_column(Date)
    front_office_deadline: Mapped[date | None] = mapped_column(Date)
    # Walk-in applications through a representative.
    representative_name: Mapped[str | None] = mapped_column(String(200))
    representative_fin: Mapped[str | None] = mapped_column(String(7))
    representative_document: Mapped[str | None] = mapped_column(String(300))
    # Back office outcome.
    refusal_ground: Mapped[RefusalGround | None] = mapped_column(_enum(RefusalGround, "refusal_ground"))
    refusal_comment: Mapped[str | None] = mapped_column(Text)
    new_certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Optimistic concurrency: every state change bumps it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Uniqueness of open applications per person and insurer (NULL once delivered or refused).
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    # The wizard's one-time key: a repeated confirm of the same form finds this application instead of a second.
    submission_key: Mapped[str | None] = mapped_column(String(43), unique=True)

    person: Mapped[Person] = relationship()
    certificate: Mapped[Certificate] = relationship(foreign_keys=[certificate_id])
    new_certificate: Mapped[Certificate | None] = relationship(foreign_keys=[new_certificate_id])
    insurer: Mapped[Insurer | None] = relationship()
    centre: Mapped[Centre | None] = relationship()
    signed_by: Mapped[Credential | None] = relationship(foreign_keys=[signed_by_credential_id])
    notice: Mapped[Notice | None] = relationship(back_populates="application", uselist=False)
    status_changes: Mapped[list[ApplicationStatusChange]] = relationship(
        back_populates="application", order_by="ApplicationStatusChange.id"
    )

    __table_args__ = (
        Index("ix_application_insurer_created", "insurer_id", "id"),
        # The id last: a registry search takes a page of ids (and the count) from the index alone.
        Index("ix_application_insurer_surname_id", "insurer_id", "surname_key", "id"),
        Index("ix_application_insurer_fin_id", "insurer_id", "fin", "id"),
        Index("ix_application_status_deadline", "status", "deadline"),
    )


# The triggers that keep Insurer.application_count (created with the table by create_all, and by migration
# 5d2a9e41c7b3 on existing databases). An application never moves to another insurer.
APPLICATION_COUNT_TRIGGERS = {
    "postgresql": [
        """CREATE OR REPLACE FUNCTION application_count_keep() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE insurer SET application_count = application_count + 1 WHERE id = NEW.insurer_id;
    ELSE
        UPDATE insurer SET application_count = application_count - 1 WHERE id = OLD.insurer_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER application_count AFTER INSERT OR DELETE ON application "
        "FOR EACH ROW EXECUTE FUNCTION application_count_keep()",
    ],
    "sqlite": [
        "CREATE TRIGGER application_count_insert AFTER INSERT ON application WHEN NEW.insurer_id IS NOT NULL "
        "BEGIN UPDATE insurer SET application_count = application_count + 1 WHERE id = NEW.insurer_id; END",
        "CREATE TRIGGER application_count_delete AFTER DELETE ON application WHEN OLD.insurer_id IS NOT NULL "
        "BEGIN UPDATE insurer SET application_count = application_count - 1 WHERE id = OLD.insurer_id; END",
    ],
}
APPLICATION_RECOUNT = ("UPDATE insurer SET application_count = "
                       "(SELECT count(*) FROM application WHERE application.insurer_id = insurer.id)")

for _dialect, _statements in APPLICATION_COUNT_TRIGGERS.items():
    for _statement in _statements:
        event.listen(Application.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))


class ApplicationStatusChange(Base):
    """Status history of an application (the timeline and 'status on a date')."""

    __tablename__ = "application_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus, "application_status"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_label: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    # The note's msgid and parameters (dost.i18n.freeze), translated for the reader; `note` is the Azerbaijani text.
    note_key: Mapped[dict | None] = mapped_column(JSON)

    application: Mapped[Application] = relationship(back_populates="status_changes")


class Notice(Base):
    """The registration notice (Bildiriş) issued at confirmation; its PDF bytes are fixed."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), unique=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Deferred: only the download reads the bytes (the registry and verification need the other columns).
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(40))
    signature: Mapped[str | None] = mapped_column(String(120))
    verification_code: Mapped[str | None] = mapped_column(String(12))
    fin_hash: Mapped[str | None] = mapped_column(String(64))
    # A later notice for the same certificate, with the reason the earlier one stopped being in force.
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"))

    application: Mapped[Application] = relationship(back_populates="notice")


class SigningKey(Base):
    """An Ed25519 key that signs notice QR payloads."""

    __tablename__ = "signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(40), unique=True)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    compromised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class VerificationCheck(Base):
    """One verification of a notice by anyone (logged without the client's address)."""

    __tablename__ = "verification_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)
    result: Mapped[str] = mapped_column(String(32))
    client_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))


class Notification(Base):
    """A message in the employer's inbox."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurer.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    # The message's msgid and parameters (dost.i18n.freeze), translated for the reader; `message` is the
    # Azerbaijani text of record.
    message_key: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Makes the sweep idempotent: one reminder per application and kind.
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)


class NonWorkingDay(Base):
    """An extra non-working day declared by an administrator."""

    __tablename__ = "non_working_day"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    description: Mapped[str] = mapped_column(String(200))


class ServiceSetting(Base):
    """Deadline settings per service (the service passport's figures)."""

    __tablename__ = "service_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[ServiceCode] = mapped_column(_enum(ServiceCode, "service_code"), unique=True)
    total_days: Mapped[int] = mapped_column(Integer, default=30)
    front_office_days: Mapped[int] = mapped_column(Integer, default=2)
    back_office_days: Mapped[int] = mapped_column(Integer, default=28)
    working_days: Mapped[bool] = mapped_column(Boolean, default=False)


class Feedback(Base):
    """A message sent through 'Əks əlaqə'."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurer.id"))
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credential.id"))
    contact: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)


class ApiToken(Base):
    """A token for the authorization API used by other DSMF services (only its hash is stored)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInThrottle(Base):
    """Sign-in attempts per credential or typed user name, shared by all app processes (dost.services.throttle)."""

    __tablename__ = "sign_in_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of "card:<number>" or "staff:<user name as typed>": what was typed is not stored.
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """An audited state change; events form a hash chain."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_label: Mapped[str] = mapped_column(String(200))
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credential.id"))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    role: Mapped[str | None] = mapped_column(String(32))
    # "seal" for seal authority, "grant:<id>" for a delegation, the staff role otherwise.
    authority: Mapped[str | None] = mapped_column(String(40))
    insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurer.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    # Unique: two concurrent appends onto the same predecessor cannot both commit.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)
