"""SSŞ applications: person lookup (AXTAR), drafts, confirmation by signature, deletion, registry search."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import date, datetime

from cachetools import LRUCache
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dost import validation
from dost.models import (
    Application,
    ApplicationReason,
    ApplicationStatus,
    ApplicationStatusChange,
    ApplicationType,
    Certificate,
    CertificateStatus,
    Channel,
    DocumentType,
    Insurer,
    Notice,
    ServiceCode,
    VerificationCheck,
)
from dost.registries import registries_for
from dost.registries.interfaces import CertificateRecord, PersonRecord
from dost.services import audit, public_numbers
from dost.services.actors import Actor
from dost.services.deadlines import deadlines_for
from dost.services.errors import Conflict, DomainError, MultipleErrors, NotFound
from dost.timeutil import utcnow

REASON_TYPES = {
    ApplicationReason.DOCUMENT_CHANGED: ApplicationType.CHANGE,
    ApplicationReason.LOST: ApplicationType.DUPLICATE,
    ApplicationReason.DATA_ERROR: ApplicationType.CHANGE,
    ApplicationReason.DAMAGED: ApplicationType.DUPLICATE,
}
# Registered and not yet delivered or refused: a person has at most one, across every insurer and channel.
IN_PROCESS_STATUSES = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.VERIFIED,
    ApplicationStatus.ORDERED,
    ApplicationStatus.READY,
)
OPEN_STATUSES = (ApplicationStatus.DRAFT, *IN_PROCESS_STATUSES)
MAX_INPUT = 64


@dataclass(frozen=True)
class IdentityInput:
    """What the employer types on the 'Vəsiqə məlumatları' step."""

    document_type: str
    fin: str
    ssn: str


@dataclass(frozen=True)
class PersonLookup:
    """AXTAR result: the registry record and the certificate it matched."""

    person: PersonRecord
    certificate: CertificateRecord
    document_type: DocumentType


def _field_error(code: str, message, field_name: str) -> DomainError:
    return DomainError(code, message, field_name)


def parse_identity(data: IdentityInput) -> tuple[DocumentType, str, str]:
    """Validate the three identity fields' format; each error names its field."""
    errors: list[DomainError] = []
    try:
        document_type = DocumentType(data.document_type)
    except ValueError:
        document_type = None
        errors.append(_field_error("document_type", _l("Sənədin tipini seçin."), "document_type"))
    fin_raw = (data.fin or "").strip()
    ssn_raw = (data.ssn or "").strip()
    fin = validation.normalize_fin(fin_raw) if len(fin_raw) <= MAX_INPUT else fin_raw
    if not fin_raw:
        errors.append(_field_error("required", _l("FİN-i daxil edin."), "fin"))
    elif not validation.is_fin(fin):
        errors.append(_field_error("format", _l("FİN 7 simvoldan (rəqəm və latın hərfləri) ibarət olmalıdır."), "fin"))
    if not ssn_raw:
        errors.append(_field_error("required", _l("SSN-i daxil edin."), "ssn"))
    elif not validation.is_ssn(ssn_raw):
        errors.append(_field_error("format", _l("SSN 13 rəqəmdən ibarət olmalıdır."), "ssn"))
    if errors:
        raise MultipleErrors(errors)
    return document_type, fin, ssn_raw


def validate_person(
    session: Session, insurer_id: int | None, data: IdentityInput, on: date, application_id: int | None = None
) -> PersonLookup:
    """The population registry record for the FİN, the SSN's certificate, the employment rule, and no other open
    application for the person (`application_id`: the draft being edited or confirmed is not another one)."""
    document_type, fin, ssn = parse_identity(data)
    registries = registries_for(session)
    person = registries.population.find_by_fin(fin)
    if person is None:
        raise _field_error("unknown_fin", _l("Bu FİN ilə şəxs əhali reyestrində tapılmadı."), "fin")
    if person.document_type != document_type:
        raise _field_error(
            "document_type_mismatch",
            _l("Bu FİN üzrə şəxsin sənədinin tipi seçilən tipə uyğun deyil."),
            "document_type",
        )
    certificate = registries.monitoring.find_by_ssn(ssn)
    if certificate is None or certificate.person_id != person.person_id:
        raise _field_error("fin_ssn_mismatch", _l("FİN və SSN eyni şəxsə və şəhadətnaməyə aid deyil."), "ssn")
    if certificate.status != CertificateStatus.ACTIVE:
        raise _field_error("certificate_not_active", _l("Bu SSN üzrə şəhadətnamə qüvvədə deyil."), "ssn")
    if insurer_id is not None and not registries.employment.is_employed(insurer_id, person.person_id, on):
        raise _field_error(
            "not_employed",
            _l("Şəxsin bu sığortaedənlə bu gün qüvvədə olan əmək müqaviləsi yoxdur."),
            "fin",
        )
    if (open_one := open_application_for(session, insurer_id, person.person_id, application_id)) is not None:
        raise OpenApplicationExists(open_one, insurer_id)
    return PersonLookup(person=person, certificate=certificate, document_type=document_type)


def parse_reason(value: str | None) -> ApplicationReason:
    """Exactly one of the four reasons."""
    try:
        return ApplicationReason(value or "")
    except ValueError:
        raise _field_error("reason", _l("Müraciətin səbəbini seçin."), "reason") from None


def _draft_key(insurer_id: int | None, person_id: int) -> str:
    return f"draft:{insurer_id if insurer_id is not None else 'walk-in'}:{person_id}"


def _in_process_key(person_id: int) -> str:
    return f"person:{person_id}"


def open_application_for(session: Session, insurer_id: int | None, person_id: int,
                         exclude_id: int | None = None) -> Application | None:
    """What stops a new application for the person: any registered one still in process (whoever applied), else
    this insurer's own draft. Another insurer's draft stops nobody."""
    own_draft = and_(Application.status == ApplicationStatus.DRAFT,
                     Application.insurer_id.is_(None) if insurer_id is None else Application.insurer_id == insurer_id)
    query = (select(Application)
             .where(Application.person_id == person_id,
                    or_(Application.status.in_(IN_PROCESS_STATUSES), own_draft))
             .order_by(case((Application.status == ApplicationStatus.DRAFT, 1), else_=0), Application.id)
             .limit(1))
    if exclude_id is not None:
        query = query.where(Application.id != exclude_id)
    return session.scalar(query)


class OpenApplicationExists(DomainError):
    """The person already has an open application; the message names it (its number once registered)."""

    status_code = 409

    def __init__(self, existing: Application, insurer_id: int | None):
        self.application_id = existing.id
        self.registration_number = existing.registration_number
        # Only the insurer's own application may be linked to; another's is named, never opened.
        self.own = existing.insurer_id is not None and existing.insurer_id == insurer_id
        if existing.status == ApplicationStatus.DRAFT:
            message = _l("Bu şəxs üçün artıq qaralama var. Onu reyestrdən davam etdirin və ya silin.")
        else:
            message = _l("Bu şəxs üçün artıq icrada olan müraciət var: № %(number)s. Yeni müraciət yalnız o "
                         "başa çatdıqdan (təhvil və ya imtina) sonra verilə bilər.",
                         number=existing.registration_number)
        super().__init__("open_application_exists", message, "fin")


def _fill(application: Application, lookup: PersonLookup, reason: ApplicationReason | None) -> None:
    person = lookup.person
    application.person_id = person.person_id
    application.certificate_id = lookup.certificate.certificate_id
    application.document_type = lookup.document_type
    application.fin = person.fin
    application.ssn = lookup.certificate.ssn
    application.ssn_date = lookup.certificate.issue_date
    application.surname = person.surname
    application.name = person.name
    application.patronymic = person.patronymic
    application.surname_key = validation.search_key(person.surname)
    application.name_key = validation.search_key(person.name)
    application.patronymic_key = validation.search_key(person.patronymic)
    application.reason = reason
    application.application_type = REASON_TYPES[reason] if reason else None


def _status_change(session: Session, application: Application, actor: Actor, note: str | None = None) -> None:
    session.add(ApplicationStatusChange(application_id=application.id, status=application.status, at=utcnow(),
                                        actor_label=actor.label, note=note))


def save_draft(
    session: Session,
    actor: Actor,
    data: IdentityInput,
    reason_value: str | None,
    on: date,
    application_id: int | None = None,
) -> Application:
    """Yadda saxla: create or update a draft (the reason may still be empty)."""
    if application_id is not None:
        application = get_for_insurer(session, actor, application_id)
        _require_status(application, ApplicationStatus.DRAFT, "edit")
    lookup = validate_person(session, actor.insurer_id, data, on, application_id)
    reason = parse_reason(reason_value) if reason_value else None
    if application_id is not None:
        before = _snapshot(application)
        _fill(application, lookup, reason)
        application.open_key = _draft_key(actor.insurer_id, lookup.person.person_id)
        application.updated_at = utcnow()
        application.version += 1
        session.flush()
        audit.record(session, actor, "application.draft_updated", "application", application.id,
                     _diff(before, _snapshot(application)))
        return application
    application = Application(
        insurer_id=actor.insurer_id,
        channel=Channel.ONLINE,
        status=ApplicationStatus.DRAFT,
        application_date=on,
        created_by_credential_id=actor.credential_id,
        open_key=_draft_key(actor.insurer_id, lookup.person.person_id),
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    _fill(application, lookup, reason)
    _insert(session, application, actor)
    _status_change(session, application, actor)
    audit.record(session, actor, "application.draft_created", "application", application.id, _snapshot(application))
    return application


def _insert(session: Session, application: Application, actor: Actor) -> None:
    """Insert guarded by the unique open key: a concurrent twin fails here, inside a savepoint."""
    try:
        with session.begin_nested():
            session.add(application)
            session.flush()
    except IntegrityError:
        existing = open_application_for(session, application.insurer_id, application.person_id)
        if existing is not None:
            raise OpenApplicationExists(existing, application.insurer_id) from None
        raise


def _snapshot(application: Application) -> dict:
    return {
        "status": application.status,
        "document_type": application.document_type,
        "fin": application.fin,
        "ssn": application.ssn,
        "reason": application.reason,
        "application_type": application.application_type,
    }


def _diff(before: dict, after: dict) -> dict:
    return {key: [before[key], after[key]] for key in after if before.get(key) != after[key]}


def _require_status(application: Application, status: ApplicationStatus, operation: str) -> None:
    if application.status == status:
        return
    messages = {
        "edit": _l("Təsdiqlənmiş müraciəti dəyişmək olmaz."),
        "delete": _l("Yalnız qaralamanı silmək olar; bu müraciət artıq təsdiqlənib."),
        "confirm": _l("Bu müraciət artıq təsdiqlənib."),
        "notice": _l("Bildiriş yalnız təsdiqlənmiş müraciət üçün mövcuddur."),
    }
    raise DomainError(f"not_{status.value}", messages[operation])


def get_for_insurer(session: Session, actor: Actor, application_id: int) -> Application:
    """The insurer's application, or NotFound (another insurer's id looks like no id at all)."""
    application = session.get(Application, application_id)
    if application is None or actor.insurer_id is None or application.insurer_id != actor.insurer_id:
        raise NotFound()
    return application


def delete_draft(session: Session, actor: Actor, application_id: int) -> None:
    """Qaralamadan sil: only a draft, only the insurer's own."""
    application = get_for_insurer(session, actor, application_id)
    _require_status(application, ApplicationStatus.DRAFT, "delete")
    snapshot = _snapshot(application)
    deleted = session.execute(
        Application.__table__.delete().where(
            Application.id == application.id, Application.status == ApplicationStatus.DRAFT
        )
    ).rowcount
    if deleted != 1:
        raise Conflict("changed", _l("Müraciət artıq dəyişdirilib; səhifəni yeniləyin."))
    session.expunge(application)
    audit.record(session, actor, "application.draft_deleted", "application", application_id, snapshot)


def canonical_content(application: Application) -> bytes:
    """The signed content: what the employer confirmed, in a fixed byte form."""
    content = {
        "insurer_id": application.insurer_id,
        "document_type": application.document_type.value,
        "fin": application.fin,
        "ssn": application.ssn,
        "surname": application.surname,
        "name": application.name,
        "patronymic": application.patronymic,
        "reason": application.reason.value if application.reason else None,
        "application_type": application.application_type.value if application.application_type else None,
        "application_date": application.application_date.isoformat(),
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class ConfirmResult:
    application: Application
    already_confirmed: bool = False


def confirm(
    session: Session,
    actor: Actor,
    data: IdentityInput,
    reason_value: str | None,
    on: date,
    submission_key: str,
    base_url: str,
    draft_id: int | None = None,
) -> ConfirmResult:
    """Təsdiqlə (signed) from the wizard or on a saved draft; a repeat, or a twin sent at the same moment, lands on
    the application that was confirmed first."""
    if (done := confirmed_before(session, actor, submission_key, draft_id)) is not None:
        return done
    try:
        # A savepoint: a twin that loses the race leaves nothing of its own attempt behind.
        with session.begin_nested():
            if draft_id is None:
                return confirm_new(session, actor, data, reason_value, on, submission_key, base_url)
            if get_for_insurer(session, actor, draft_id).status == ApplicationStatus.DRAFT:
                save_draft(session, actor, data, reason_value, on, draft_id)
            return confirm_draft(session, actor, draft_id, on, base_url)
    except (Conflict, OpenApplicationExists):
        # Whoever won has committed (the loser waited for its row or key); if it was this very form, go there.
        if (done := confirmed_before(session, actor, submission_key, draft_id)) is not None:
            return done
        raise


def confirmed_before(session: Session, actor: Actor, submission_key: str,
                     draft_id: int | None) -> ConfirmResult | None:
    """The application this form (its one-time key, or the draft it confirms) already made, if any."""
    condition = Application.id == draft_id if draft_id is not None else Application.submission_key == submission_key
    existing = session.scalar(
        select(Application)
        .where(condition, Application.insurer_id == actor.insurer_id, Application.registration_number.is_not(None))
        .execution_options(populate_existing=True)
    )
    return ConfirmResult(existing, already_confirmed=True) if existing is not None else None


def confirm_new(
    session: Session,
    actor: Actor,
    data: IdentityInput,
    reason_value: str | None,
    on: date,
    submission_key: str,
    base_url: str,
) -> ConfirmResult:
    """Təsdiqlə straight from the wizard (without saving first), in one transaction."""
    existing = session.scalar(select(Application).where(Application.submission_key == submission_key))
    if existing is not None:
        if existing.insurer_id != actor.insurer_id:
            raise NotFound()
        return ConfirmResult(existing, already_confirmed=True)
    reason = parse_reason(reason_value)
    lookup = validate_person(session, actor.insurer_id, data, on)
    application = Application(
        insurer_id=actor.insurer_id,
        channel=Channel.ONLINE,
        status=ApplicationStatus.DRAFT,
        application_date=on,
        created_by_credential_id=actor.credential_id,
        open_key=_draft_key(actor.insurer_id, lookup.person.person_id),
        submission_key=submission_key,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    _fill(application, lookup, reason)
    _insert(session, application, actor)
    audit.record(session, actor, "application.created", "application", application.id, _snapshot(application))
    _submit(session, actor, application, on, base_url)
    return ConfirmResult(application)


def confirm_draft(
    session: Session, actor: Actor, application_id: int, on: date, base_url: str
) -> ConfirmResult:
    """Təsdiqlə on a draft from the registry; a repeat finds it already confirmed."""
    application = get_for_insurer(session, actor, application_id)
    if application.status != ApplicationStatus.DRAFT:
        if application.registration_number:
            return ConfirmResult(application, already_confirmed=True)
        _require_status(application, ApplicationStatus.DRAFT, "confirm")
    if application.reason is None:
        raise DomainError("reason", _l("Müraciətin səbəbini seçin."), "reason")
    # The rules are checked again at signing: employment or the certificate may have changed since the draft.
    validate_person(session, actor.insurer_id,
                    IdentityInput(application.document_type.value, application.fin, application.ssn), on,
                    application.id)
    _submit(session, actor, application, on, base_url)
    return ConfirmResult(application)


def _submit(session: Session, actor: Actor, application: Application, on: date, base_url: str) -> None:
    # Claim the draft atomically: of two concurrent confirms exactly one moves it out of draft. The person's
    # in-process key is unique: of two registrations for one person (any insurer, any channel) one commits.
    try:
        with session.begin_nested():
            claimed = session.execute(
                update(Application)
                .where(Application.id == application.id, Application.status == ApplicationStatus.DRAFT,
                       Application.version == application.version)
                .values(status=ApplicationStatus.SUBMITTED, version=Application.version + 1,
                        open_key=_in_process_key(application.person_id))
                .execution_options(synchronize_session=False)
            ).rowcount
    except IntegrityError:
        existing = open_application_for(session, application.insurer_id, application.person_id, application.id)
        if existing is not None:
            raise OpenApplicationExists(existing, application.insurer_id) from None
        raise
    if claimed != 1:
        raise Conflict("already_confirmed", _l("Bu müraciət artıq təsdiqlənib."))
    session.refresh(application)
    now = utcnow()
    deadlines = deadlines_for(session, ServiceCode.SSN_CERTIFICATE, on)
    assign_registration_number(session, application, on)
    application.submitted_at = now
    application.content_sha256 = hashlib.sha256(canonical_content(application)).hexdigest()
    application.signed_by_credential_id = actor.credential_id
    application.signed_authority = actor.authority
    application.deadline = deadlines.total
    application.front_office_deadline = deadlines.front_office
    application.updated_at = now
    _status_change(session, application, actor)
    notice = issue_notice(session, application, now, base_url)
    audit.record(session, actor, "application.confirmed", "application", application.id, {
        "status": ["draft", "submitted"],
        "registration_number": application.registration_number,
        "content_sha256": application.content_sha256,
        "deadline": application.deadline,
        "notice": notice.number,
    })


def assign_registration_number(session: Session, application: Application, on: date) -> None:
    """A random public number (see public_numbers); a collision, however unlikely, draws again."""
    for _ in range(5):
        try:
            with session.begin_nested():
                application.registration_number = public_numbers.new_number(on.year)
                session.flush()
            return
        except IntegrityError:
            continue
    raise RuntimeError("no free registration number after 5 draws")


def issue_notice(session: Session, application: Application, now: datetime, base_url: str) -> Notice:
    """Create the notice, sign its QR payload and fix its PDF bytes."""
    from dost.services import notice_pdf, signing

    notice = Notice(application_id=application.id, number=application.registration_number, issued_at=now,
                    pdf=b"", pdf_sha256="")
    session.add(notice)
    session.flush()
    signing.sign_notice(session, notice, application)
    pdf = notice_pdf.render_notice(application, notice, signing.verification_url(notice, base_url))
    notice.pdf = pdf
    notice.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    session.flush()
    return notice


def supersede_earlier_notices(session: Session, application: Application) -> int:
    """On delivery, the person's earlier notices stop being in force: verification links them to this one."""
    if application.notice is None:
        return 0
    earlier = session.scalars(
        select(Notice)
        .join(Application, Notice.application_id == Application.id)
        .where(Application.person_id == application.person_id, Application.id != application.id,
               Notice.superseded_by_id.is_(None))
    ).all()
    for notice in earlier:
        notice.superseded_by_id = application.notice.id
    session.flush()
    return len(earlier)


@dataclass(frozen=True)
class IssuedNotice:
    number: str
    pdf_sha256: str
    pdf: bytes | None


# Prebuilt: a download is one small statement, and building it would cost as much as running it.
_DOWNLOAD_HEAD = (
    select(Notice.id, Notice.number, Notice.pdf_sha256)
    .join(Application, Notice.application_id == Application.id)
    .where(Application.id == bindparam("application_id"), Application.insurer_id == bindparam("insurer_id"))
)
_NOTICE_PDF = select(Notice.pdf).where(Notice.id == bindparam("notice_id"))

# An issued notice never changes, so its bytes are kept by their SHA-256 (per process, bounded by size): a
# re-download reads only the small columns that authorize it. Only bytes matching their stored hash are kept.
_ISSUED_PDFS: LRUCache[str, bytes] = LRUCache(maxsize=64 * 1024 * 1024, getsizeof=len)
_ISSUED_PDFS_LOCK = threading.Lock()


def notice_for_download(session: Session, actor: Actor, application_id: int, with_bytes: bool = True) -> IssuedNotice:
    """Bildirişi yüklə: the fixed bytes of a confirmed application's notice (this insurer's only)."""
    # On the session's connection: plain columns need none of the ORM's result handling.
    row = session.connection().execute(
        _DOWNLOAD_HEAD, {"application_id": application_id, "insurer_id": actor.insurer_id}
    ).first()
    if row is None:
        # Either not this insurer's (404) or a draft without a notice (a clear refusal).
        application = get_for_insurer(session, actor, application_id)
        _require_status(application, ApplicationStatus.SUBMITTED, "notice")
    if not with_bytes:
        return IssuedNotice(row.number, row.pdf_sha256, None)
    with _ISSUED_PDFS_LOCK:
        pdf = _ISSUED_PDFS.get(row.pdf_sha256)
    if pdf is None:
        pdf = session.connection().scalar(_NOTICE_PDF, {"notice_id": row.id})
        if hashlib.sha256(pdf).hexdigest() == row.pdf_sha256:
            with _ISSUED_PDFS_LOCK:
                _ISSUED_PDFS[row.pdf_sha256] = pdf
    return IssuedNotice(row.number, row.pdf_sha256, pdf)


@dataclass
class RegistryFilters:
    """Axtarış by the registry's ten columns."""

    application_type: str = ""
    fin: str = ""
    surname: str = ""
    name: str = ""
    patronymic: str = ""
    ssn: str = ""
    ssn_date: date | None = None
    application_date: date | None = None
    certificate_status: str = ""
    status: str = ""

    def active(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


def _prefix(column, text: str):
    key = validation.search_key(text)
    # A range on the byte-ordered key uses the (insurer, key) index on both databases.
    return and_(column >= key, column < key + "\U0010ffff")


def registry_query(actor: Actor, filters: RegistryFilters):
    """The insurer's applications matching the filters (a select of Application)."""
    conditions = [Application.insurer_id == actor.insurer_id]
    if filters.application_type in {t.value for t in ApplicationType}:
        conditions.append(Application.application_type == ApplicationType(filters.application_type))
    if filters.fin:
        conditions.append(Application.fin == validation.normalize_fin(filters.fin))
    if filters.surname:
        conditions.append(_prefix(Application.surname_key, filters.surname))
    if filters.name:
        conditions.append(_prefix(Application.name_key, filters.name))
    if filters.patronymic:
        conditions.append(_prefix(Application.patronymic_key, filters.patronymic))
    if filters.ssn:
        conditions.append(Application.ssn.startswith(filters.ssn.strip(), autoescape=True))
    if filters.ssn_date:
        conditions.append(Application.ssn_date == filters.ssn_date)
    if filters.application_date:
        conditions.append(Application.application_date == filters.application_date)
    if filters.status in {s.value for s in ApplicationStatus}:
        conditions.append(Application.status == ApplicationStatus(filters.status))
    query = select(Application).where(*conditions)
    if filters.certificate_status in {s.value for s in CertificateStatus}:
        query = query.join(Certificate, Application.certificate_id == Certificate.id).where(
            Certificate.status == CertificateStatus(filters.certificate_status)
        )
    return query


@dataclass(frozen=True)
class RegistryRow:
    """One REYESTR line: the columns shown, what the operations need, the certificate's status and the notice."""

    id: int
    application_type: ApplicationType | None
    fin: str
    surname: str
    name: str
    patronymic: str | None
    ssn: str
    ssn_date: date | None
    application_date: date
    status: ApplicationStatus
    registration_number: str | None
    certificate_status: CertificateStatus | None
    notice_id: int | None
    checks: int


@dataclass
class RegistryPage:
    rows: list[RegistryRow]
    total: int
    page: int
    pages: int

    @property
    def any_checked(self) -> bool:
        """Whether a notice on this page was checked by a verifier (the check-count column is shown then)."""
        return any(row.checks for row in self.rows)


_APPLICATION_COUNT = select(Insurer.application_count).where(Insurer.id == bindparam("insurer_id"))


def registry_page(session: Session, actor: Actor, filters: RegistryFilters, page: int, page_size: int) -> RegistryPage:
    """One page of the registry, newest first, with the total count for the pager."""
    ids = registry_query(actor, filters).with_only_columns(Application.id)
    if filters.active():
        total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    else:
        # The whole registry: the insurer's count kept by the database (exact, without reading 100,000 rows).
        total = session.scalar(_APPLICATION_COUNT, {"insurer_id": actor.insurer_id}) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    # Deferred join: the page's ids come from the index alone, then only those rows are read, with their
    # certificate's status, notice and check count in the same statement.
    page_ids = ids.order_by(Application.id.desc()).offset((page - 1) * page_size).limit(page_size).subquery()
    checks = (select(func.count()).where(VerificationCheck.notice_id == Notice.id)
              .correlate(Notice).scalar_subquery())
    rows = session.execute(
        select(Application.id, Application.application_type, Application.fin, Application.surname,
               Application.name, Application.patronymic, Application.ssn, Application.ssn_date,
               Application.application_date, Application.status, Application.registration_number,
               Certificate.status, Notice.id, checks)
        .join(page_ids, Application.id == page_ids.c.id)
        .outerjoin(Certificate, Application.certificate_id == Certificate.id)
        .outerjoin(Notice, Notice.application_id == Application.id)
        .order_by(Application.id.desc())
    )
    return RegistryPage(rows=[RegistryRow(*row) for row in rows], total=total, page=page, pages=pages)


def allowed_operations(application: Application | RegistryRow) -> set[str]:
    """Which ƏMƏLİYYATLAR apply to a row."""
    operations = {"details"}
    if application.status == ApplicationStatus.DRAFT:
        operations |= {"confirm", "delete", "edit"}
    elif application.registration_number:
        # A notice is issued in the same transaction that assigns the registration number.
        operations.add("download")
    return operations


@dataclass(frozen=True)
class Representative:
    """Who brought a walk-in application on the person's behalf, and the document that allows it."""

    name: str
    fin: str
    document: str


def create_walk_in(
    session: Session,
    actor: Actor,
    data: IdentityInput,
    reason_value: str | None,
    insurer_id: int | None,
    centre_id: int,
    representative: Representative | None,
    on: date,
    base_url: str,
) -> Application:
    """An agent registers an application for a person at the centre: same rules, submitted at once, notice issued."""
    reason = parse_reason(reason_value)
    lookup = validate_person(session, insurer_id, data, on)
    if representative is not None:
        _check_representative(representative)
    application = Application(
        insurer_id=insurer_id,
        channel=Channel.WALK_IN,
        centre_id=centre_id,
        status=ApplicationStatus.DRAFT,
        application_date=on,
        created_by_staff_id=actor.staff_user_id,
        open_key=_draft_key(insurer_id, lookup.person.person_id),
        representative_name=representative.name if representative else None,
        representative_fin=validation.normalize_fin(representative.fin) if representative else None,
        representative_document=representative.document if representative else None,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    _fill(application, lookup, reason)
    _insert(session, application, actor)
    audit.record(session, actor, "application.walk_in_created", "application", application.id, {
        **_snapshot(application), "centre_id": centre_id, "representative": representative is not None})
    _submit(session, actor, application, on, base_url)
    return application


def _check_representative(representative: Representative) -> None:
    errors = []
    if not representative.name.strip():
        errors.append(_field_error("required", _l("Nümayəndənin adını daxil edin."), "representative_name"))
    elif len(representative.name) > 200:
        errors.append(_field_error("too_long", _l("Ən çox 200 simvol daxil edilə bilər."), "representative_name"))
    if not validation.is_fin(validation.normalize_fin(representative.fin)):
        errors.append(_field_error("format", _l("Nümayəndənin FİN-i 7 simvoldan ibarət olmalıdır."),
                                   "representative_fin"))
    if not representative.document.strip():
        errors.append(_field_error("required", _l("Etibarnamə və ya qəyyumluq sənədinin məlumatlarını daxil edin."),
                                   "representative_document"))
    elif len(representative.document) > 300:
        errors.append(
            _field_error("too_long", _l("Ən çox 300 simvol daxil edilə bilər."), "representative_document")
        )
    if errors:
        raise MultipleErrors(errors)
