"""Checks of notices by anyone: signature, status (now or on a date), minimal disclosure, match/no-match, check log."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from urllib.parse import quote

from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from dost import i18n, labels, validation
from dost.models import (
    Application,
    ApplicationReason,
    ApplicationStatus,
    ApplicationStatusChange,
    ApplicationType,
    Insurer,
    Notice,
    VerificationCheck,
)
from dost.services import public_numbers, signing
from dost.services.errors import DomainError, MultipleErrors
from dost.timeutil import local, utcnow


class Reason(StrEnum):
    """Reason codes of a check (the API's `reason`)."""

    VALID = "valid"
    SUPERSEDED = "superseded"
    REFUSED = "refused"
    NOT_YET_ISSUED = "not_yet_issued"
    NOT_FOUND = "not_found"
    SIGNATURE_INVALID = "signature_invalid"
    KEY_REVOKED = "key_revoked"


AUTHENTIC = {Reason.VALID, Reason.SUPERSEDED, Reason.REFUSED, Reason.NOT_YET_ISSUED}

REASON_TITLES = {
    Reason.VALID: _l("Həqiqidir və qüvvədədir"),
    Reason.SUPERSEDED: _l("Həqiqidir, lakin yenisi ilə əvəz olunub"),
    Reason.REFUSED: _l("Həqiqidir, lakin müraciət imtina edilib/geri götürülüb"),
    Reason.NOT_YET_ISSUED: _l("Həqiqidir, lakin həmin tarixdə hələ verilməmişdi"),
    Reason.NOT_FOUND: _l("Sənəd tapılmadı"),
    Reason.SIGNATURE_INVALID: _l("İmza etibarsızdır"),
    Reason.KEY_REVOKED: _l("İmza açarı ləğv edilib"),
}

REASON_EXPLANATIONS = {
    Reason.VALID: _l("Bildiriş DOST tərəfindən verilib, dəyişdirilməyib və qüvvədədir."),
    Reason.SUPERSEDED: _l("Bildiriş DOST tərəfindən verilib, lakin eyni şəhadətnamə üzrə daha sonra verilmiş "
                          "bildirişlə əvəz olunub və artıq qüvvədə deyil."),
    Reason.REFUSED: _l("Bildiriş DOST tərəfindən verilib, lakin müraciət üzrə imtina edilib və ya müraciət geri "
                       "götürülüb. Bildiriş qüvvədə deyil."),
    Reason.NOT_YET_ISSUED: _l("Bildiriş DOST tərəfindən verilib, lakin soruşulan tarixdən sonra."),
    Reason.NOT_FOUND: _l("Bu nömrə və yoxlama kodu ilə bildiriş tapılmadı. Nömrəni və bildirişdə QR kodun "
                         "altında çap olunmuş kodu yoxlayın."),
    Reason.SIGNATURE_INVALID: _l("Keçid DOST-un imzası ilə təsdiqlənmir: zədələnib, dəyişdirilib və ya DOST "
                                 "tərəfindən verilməyib. Bu bildirişə etibar etməyin."),
    Reason.KEY_REVOKED: _l("Bildirişin imza açarı etibarsız elan edilib. Bildirişə etibar etməyin; sahibindən "
                           "yenisini tələb edin və ya DOST mərkəzinə müraciət edin."),
}

TYPE_LABELS = labels.APPLICATION_TYPE

REASON_LABELS = labels.APPLICATION_REASON

STATUS_LABELS = labels.APPLICATION_STATUS

MAX_NUMBER_LENGTH = 32
MAX_CODE_LENGTH = 20
PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class PublicFacts:
    """What a verifier may see: nothing that identifies the person beyond initials and a masked FİN."""

    application_type: str
    type_label: str
    number: str
    issue_date: date
    insurer_name: str
    holder_initials: str
    masked_fin: str
    application_status: str
    status_label: str


@dataclass
class CheckResult:
    """Outcome of one check; `notice` (set only when the check proved which notice it is) is internal and never
    shown; `facts` is the public part."""

    reason: Reason
    channel: str
    as_of: date | None = None
    notice: NoticeRecord | None = None
    facts: PublicFacts | None = None
    kid: str | None = None
    replacement_token: str | None = None  # not percent-encoded: url_for encodes it
    replacement_number: str | None = None
    replacement_reason: str | None = None
    replacement_issue_date: date | None = None
    # The day a later notice took this one's place; shown even when the replacement itself is not.
    superseded_on: date | None = None
    matches: dict[str, bool] = field(default_factory=dict)
    pdf_identical: bool | None = None

    @property
    def authentic(self) -> bool:
        return self.reason in AUTHENTIC

    @property
    def in_force(self) -> bool:
        return self.reason == Reason.VALID

    @property
    def title(self) -> str:
        return i18n.text(REASON_TITLES[self.reason])

    @property
    def explanation(self) -> str:
        return i18n.text(REASON_EXPLANATIONS[self.reason])

    def as_json(self) -> dict:
        """The API's response body (minimal fields only)."""
        body: dict = {
            "reason": self.reason.value,
            "authentic": self.authentic,
            "in_force": self.in_force,
            "title": self.title,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }
        if self.facts is not None:
            facts = self.facts
            body["notice"] = {
                "type": facts.application_type,
                "type_label": facts.type_label,
                "number": facts.number,
                "issue_date": facts.issue_date.isoformat(),
                "insurer_name": facts.insurer_name,
                "holder_initials": facts.holder_initials,
                "masked_fin": facts.masked_fin,
                "application_status": facts.application_status,
                "status_label": facts.status_label,
                "key_id": self.kid,
            }
        if self.superseded_on is not None:
            body["superseded_on"] = self.superseded_on.isoformat()
        if self.replacement_number is not None:
            body["replacement"] = {
                "number": self.replacement_number,
                "issue_date": self.replacement_issue_date.isoformat() if self.replacement_issue_date else None,
                "reason": self.replacement_reason,
                "path": f"/v/{quote(self.replacement_token, safe='')}" if self.replacement_token else None,
            }
        if self.matches:
            body["matches"] = {name: ("match" if ok else "no_match") for name, ok in self.matches.items()}
        if self.pdf_identical is not None:
            body["pdf_identical"] = self.pdf_identical
        return body


# --- input normalisation ----------------------------------------------------------------------------------


def _clean(value: str) -> str:
    # Full-width digits and similar compatibility forms become plain ones; look-alike letters from other scripts
    # stay different and so simply do not match anything.
    value = unicodedata.normalize("NFKC", value)
    value = value.replace("\u2010", "-").replace("\u2011", "-").replace("\u2012", "-").replace("\u2013", "-")
    return "".join(ch for ch in value if unicodedata.category(ch)[0] != "C").strip()


def normalize_number(value: str) -> str:
    """A typed notice number as stored: in its printed form when it is a public number (public_numbers.normalize),
    else trimmed, Azerbaijani upper case, no inner spaces (numbers issued before public numbers were random)."""
    cleaned = _clean(value)
    return public_numbers.normalize(cleaned) or validation.az_upper("".join(cleaned.split()))


def parse_date(value: str, today: date) -> date | None:
    """'dd.mm.yyyy' or 'yyyy-mm-dd' → date; empty → None; a bad or future date raises DomainError on 'date'."""
    value = _clean(value or "")
    if not value:
        return None
    parsed = None
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            parsed = datetime.strptime(value, pattern).date()  # noqa: DTZ007 - a calendar date, no time zone
            break
        except ValueError:
            continue
    if parsed is None or len(value) > 10:
        raise DomainError("date", _l("Tarixi gg.aa.iiii formatında daxil edin."), "date")
    if parsed > today:
        raise DomainError("date", _l("Tarix bu gündən sonra ola bilməz."), "date")
    return parsed


def normalize_typed_code(value: str) -> str:
    """A typed verification code: compatibility forms folded, spaces and dashes dropped, upper case."""
    return signing.normalize_code(_clean(value or ""))


def validate_number_and_code(number: str, code: str) -> tuple[str, str]:
    """Both present and of plausible length, the number's check symbol right; every error beside its field."""
    number = normalize_number(number or "")
    code = normalize_typed_code(code)
    errors: list[DomainError] = []
    if not number:
        errors.append(DomainError("number", _l("Bildirişin nömrəsini daxil edin."), "number"))
    elif len(number) > MAX_NUMBER_LENGTH:
        errors.append(DomainError("number", _l("Nömrə çox uzundur."), "number"))
    elif public_numbers.typo_suspected(number):
        errors.append(DomainError("number_typo", _l("Nömrədə yazı səhvi var (yoxlama simvolu uyğun gəlmir). "
                                                    "Nömrəni bildirişdəki kimi yenidən daxil edin."), "number"))
    if not code:
        errors.append(DomainError("code", _l("QR kodun altında çap olunmuş yoxlama kodunu daxil edin."), "code"))
    elif len(code) > MAX_CODE_LENGTH:
        errors.append(DomainError("code", _l("Yoxlama kodu çox uzundur."), "code"))
    if errors:
        raise MultipleErrors(errors) if len(errors) > 1 else errors[0]
    return number, code


# --- the checks -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRecord:
    """The columns of a notice, its application and insurer that a check reads: one query, no ORM objects (a
    verification is the busiest public request)."""

    id: int
    number: str
    issued_at: datetime
    pdf_sha256: str
    key_id: str | None
    signature: str | None
    verification_code: str | None
    fin_hash: str | None
    superseded_by_id: int | None
    application_id: int
    application_type: ApplicationType | None
    reason: ApplicationReason | None
    status: ApplicationStatus
    surname: str
    name: str
    patronymic: str | None
    fin: str
    ssn: str
    surname_key: str | None
    deadline: date | None
    completed_at: datetime | None
    updated_at: datetime | None
    insurer_name: str | None
    insurer_voen: str | None
    insurer_id: int | None

    @property
    def signed_fields(self) -> signing.NoticeFields:
        """The key fields the QR signature covers, as they stand in the database."""
        return signing.notice_fields(self.application_type, self.number, self.issued_at, self.insurer_voen,
                                     self.fin_hash, self.deadline)


# Built once: a check runs this statement and nothing else, so it skips building and compiling per request.
_RECORD_QUERY = (
    select(
        Notice.id, Notice.number, Notice.issued_at, Notice.pdf_sha256, Notice.key_id, Notice.signature,
        Notice.verification_code, Notice.fin_hash, Notice.superseded_by_id, Notice.application_id,
        Application.application_type, Application.reason, Application.status, Application.surname,
        Application.name, Application.patronymic, Application.fin, Application.ssn, Application.surname_key,
        Application.deadline, Application.completed_at, Application.updated_at, Insurer.full_name, Insurer.voen,
        Application.insurer_id,
    )
    .join(Application, Notice.application_id == Application.id)
    .outerjoin(Insurer, Application.insurer_id == Insurer.id)
)
_BY_NUMBER = _RECORD_QUERY.where(Notice.number == bindparam("number"))
_BY_ID = _RECORD_QUERY.where(Notice.id == bindparam("notice_id"))


def _record(row) -> NoticeRecord | None:
    return NoticeRecord(*row) if row is not None else None


def _load(db: Session | Connection, number: str) -> NoticeRecord | None:
    return _record(db.execute(_BY_NUMBER, {"number": number}).first())


def _load_by_id(db: Session | Connection, notice_id: int) -> NoticeRecord | None:
    return _record(db.execute(_BY_ID, {"notice_id": notice_id}).first())


# A fixed key and message verified when the number is unknown, so both paths do the same work.
_DUMMY_FIELDS = signing.NoticeFields("change", "-", date(2000, 1, 1), "", "", None)


def check_token(session: Session | Connection, token: str, on: date | None = None, channel: str = "qr") -> CheckResult:
    """A scanned /v/<number>.<kid>.<signature>: an unknown number and a wrong signature look the same."""
    parsed = signing.parse_token(token)
    if parsed is None:
        # Without a signature part there is nothing to check; a number alone never reveals anything.
        reason = Reason.NOT_FOUND if "." not in token else Reason.SIGNATURE_INVALID
        return CheckResult(reason, channel, as_of=on)
    key = signing.public_key(session, parsed.kid)
    if key is None:
        return CheckResult(Reason.SIGNATURE_INVALID, channel, as_of=on)
    notice = _load(session, parsed.number)
    if notice is None:
        signing.signature_valid(key, _DUMMY_FIELDS, parsed.signature)
        return CheckResult(Reason.SIGNATURE_INVALID, channel, as_of=on)
    # The key named in the URL, not necessarily the notice's latest one: a notice re-signed after a compromise
    # keeps its old printed QR, which then shows "key revoked" rather than "invalid".
    if not signing.signature_valid(key, notice.signed_fields, parsed.signature):
        return CheckResult(Reason.SIGNATURE_INVALID, channel, as_of=on)
    return _authentic(session, notice, key, on, channel)


def check_code(session: Session | Connection, number: str, code: str, on: date | None = None,
               channel: str = "form") -> CheckResult:
    """Number + the code printed under the QR: a wrong code is 'not found', like an unknown number."""
    notice = _load(session, number)
    if notice is None or not signing.code_matches(notice.verification_code, code):
        return CheckResult(Reason.NOT_FOUND, channel, as_of=on)
    key = signing.public_key(session, notice.key_id or "")
    # The stored signature is checked too: a row edited in the database no longer verifies.
    if key is None or not notice.signature or not signing.signature_valid(key, notice.signed_fields, notice.signature):
        return CheckResult(Reason.SIGNATURE_INVALID, channel, as_of=on, notice=notice)
    return _authentic(session, notice, key, on, channel)


def check_url(session: Session | Connection, url: str, on: date | None = None, channel: str = "api") -> CheckResult:
    """A scanned URL (any host; only the /v/ path counts) or a bare token."""
    from urllib.parse import unquote, urlsplit

    if len(url) > 2048:
        return CheckResult(Reason.SIGNATURE_INVALID, channel, as_of=on)
    try:
        path = urlsplit(url).path if "://" in url else url
    except ValueError:  # e.g. a broken IPv6 host "http://[x"
        return CheckResult(Reason.SIGNATURE_INVALID, channel, as_of=on)
    marker = path.rfind("/v/")
    token = path[marker + 3:] if marker >= 0 else path.lstrip("/")
    return check_token(session, unquote(token, errors="replace"), on, channel)


def _authentic(session: Session | Connection, notice: NoticeRecord, key: signing.PublicKey, on: date | None,
               channel: str) -> CheckResult:
    if key.compromised:
        # Whoever holds a compromised key could have made this URL: disclose nothing about the notice.
        return CheckResult(Reason.KEY_REVOKED, channel, as_of=on, notice=notice)
    result = CheckResult(Reason.VALID, channel, as_of=on, notice=notice, facts=_facts(notice), kid=key.kid)
    replacement = _load_by_id(session, notice.superseded_by_id) if notice.superseded_by_id else None
    if on is None:
        if notice.status == ApplicationStatus.REFUSED:
            result.reason = Reason.REFUSED
        elif replacement is not None:
            result.reason = Reason.SUPERSEDED
    else:
        refused_on = _refused_on(session, notice)
        if local(notice.issued_at).date() > on:
            result.reason = Reason.NOT_YET_ISSUED
        elif refused_on is not None and refused_on <= on:
            result.reason = Reason.REFUSED
        elif replacement is not None and local(replacement.issued_at).date() <= on:
            result.reason = Reason.SUPERSEDED
    if result.reason == Reason.SUPERSEDED and replacement is not None:
        result.superseded_on = local(replacement.issued_at).date()
        if not _same_insurer(notice, replacement):
            # A replacement applied for elsewhere (another employer, or the person at a centre) would tell the
            # holder of the old notice where the person works now: only the day is said.
            return result
        result.replacement_number = replacement.number
        result.replacement_issue_date = local(replacement.issued_at).date()
        if replacement.key_id and replacement.signature:
            result.replacement_token = f"{replacement.number}.{replacement.key_id}.{replacement.signature}"
        result.replacement_reason = i18n.text(REASON_LABELS[replacement.reason]) if replacement.reason else None
    return result


def _same_insurer(notice: NoticeRecord, replacement: NoticeRecord) -> bool:
    return notice.insurer_id is not None and notice.insurer_id == replacement.insurer_id


def _refused_on(session: Session | Connection, notice: NoticeRecord) -> date | None:
    """The day (Baku) the notice's application was refused or withdrawn, from its status history."""
    moment = session.scalar(
        select(func.min(ApplicationStatusChange.at)).where(
            ApplicationStatusChange.application_id == notice.application_id,
            ApplicationStatusChange.status == ApplicationStatus.REFUSED,
        )
    )
    if moment is None and notice.status == ApplicationStatus.REFUSED:
        # Refused without a history row (imported data): from when it was closed, else always.
        moment = notice.completed_at or notice.updated_at
        if moment is None:
            return date.min
    return local(moment).date() if moment is not None else None


def _initials(*parts: str | None) -> str:
    return " ".join(validation.az_upper(part.strip()[0]) + "." for part in parts if part and part.strip())


def _facts(notice: NoticeRecord) -> PublicFacts:
    app_type = notice.application_type
    return PublicFacts(
        application_type=app_type.value if app_type else "",
        type_label=i18n.text(TYPE_LABELS[app_type]) if app_type else "",
        number=notice.number,
        issue_date=local(notice.issued_at).date(),
        insurer_name=notice.insurer_name or "",
        holder_initials=_initials(notice.surname, notice.name, notice.patronymic),
        masked_fin=validation.mask_fin(notice.fin),
        application_status=notice.status.value,
        status_label=i18n.text(STATUS_LABELS[notice.status]),
    )


# --- verifier-typed values and the PDF --------------------------------------------------------------------


def compare_printed(result: CheckResult, surname: str = "", ssn: str = "") -> None:
    """Match / no match of values the verifier typed from the printed document; never the stored value."""
    if not result.authentic or result.notice is None:
        return
    notice = result.notice
    surname = _clean(surname or "")[:100]
    ssn = "".join(_clean(ssn or "").split())[:20]
    if surname:
        typed = validation.search_key(surname).encode()
        result.matches["surname"] = hmac.compare_digest(typed, (notice.surname_key or "").encode())
    if ssn:
        result.matches["ssn"] = hmac.compare_digest(ssn.encode(), (notice.ssn or "").encode())


def validate_ssn_input(ssn: str) -> None:
    """A typed SSN must look like one (13 digits) before it is compared."""
    ssn = "".join(_clean(ssn or "").split())
    if ssn and not validation.is_ssn(ssn):
        raise DomainError("ssn", _l("SSN 13 rəqəmdən ibarət olmalıdır."), "ssn")


def validate_surname_input(surname: str) -> None:
    """A typed surname: letters, spaces, hyphens and apostrophes, at most 100 characters."""
    surname = _clean(surname or "")
    if len(surname) > 100:
        raise DomainError("surname", _l("Soyad çox uzundur."), "surname")
    if surname and not all(ch.isalpha() or ch in " -'’" for ch in surname):
        raise DomainError("surname", _l("Soyadda yalnız hərflər ola bilər."), "surname")


def hash_pdf(stream, limit: int) -> str:
    """SHA-256 of an uploaded PDF read in chunks; refuses non-PDF content and anything over the limit."""
    digest = hashlib.sha256()
    head = stream.read(len(PDF_MAGIC))
    if head != PDF_MAGIC:
        raise DomainError("pdf", _l("Fayl PDF deyil. Bildirişin PDF faylını seçin."), "pdf")
    digest.update(head)
    size = len(head)
    while chunk := stream.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise DomainError("pdf_size", _l("Fayl çox böyükdür: bildirişin PDF faylı %(mb)s MB-dan kiçikdir.",
                                             mb=max(1, limit // (1024 * 1024))), "pdf")
        digest.update(chunk)
    return digest.hexdigest()


def compare_pdf(result: CheckResult, sha256_hex: str) -> None:
    """Whether the uploaded file is byte-identical to the issued notice."""
    if result.notice is None or not result.authentic:
        return
    result.pdf_identical = hmac.compare_digest(sha256_hex, result.notice.pdf_sha256 or "")


# --- the log ----------------------------------------------------------------------------------------------


def check_row(result: CheckResult, client_address: str) -> dict:
    """The check-log row of a check: time, result, the notice (only when the check proved which one), channel and
    a salted hash of the client address (never the address itself)."""
    return {
        "at": utcnow(),
        "notice_id": result.notice.id if result.notice is not None else None,
        "result": result.reason.value,
        "client_hash": signing.client_hash(client_address or ""),
        "channel": result.channel[:16],
    }


def record_check(session: Session, result: CheckResult, client_address: str) -> None:
    """Log the check in the session's transaction (the web app batches these instead: dost.services.check_log)."""
    if session.get_bind().dialect.name == "postgresql":
        # The check log is a statistic, not a record of rights: it need not wait for the disk flush (a crash may
        # lose the last moment of checks, never corrupt them). This transaction writes nothing else.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    session.execute(insert(VerificationCheck).values(**check_row(result, client_address)))


def checks_count(session: Session, notice_ids) -> dict[int, int]:
    """How many times each notice was checked (notices never checked are absent)."""
    ids = list(notice_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(VerificationCheck.notice_id, func.count())
        .where(VerificationCheck.notice_id.in_(ids))
        .group_by(VerificationCheck.notice_id)
    )
    return {notice_id: count for notice_id, count in rows}

