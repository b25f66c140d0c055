"""The service passport's processing steps (01-08-02-00, steps 4–8) as state transitions on Application.

submitted ──verify──▶ verified ──order──▶ ordered ──ready──▶ ready ──deliver──▶ delivered
    └──────────────┴──────────refuse (ground + comment)──────────┘──▶ refused

Every transition checks the version the user saw (optimistic concurrency), bumps it, adds an
ApplicationStatusChange row, an audit event and a message in the employer's inbox.

Scopes. An agent works on the applications of its DOST centre, a supervisor sees the centres of its region,
the back office sees the applications waiting for it (ordered/ready) of the services it executes, an
administrator sees everything (read-only). Online applications carry no centre: each is served by the
centre that covers its insurer's local DSMF office (ONLINE_ROUTING; an office not listed goes to
DEFAULT_ONLINE_CENTRE). The rule is part of every scope query, so it holds on the server for queues, pages,
actions and reports alike. Anything outside the scope is NotFound, never Forbidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from dost import i18n, labels, validation
from dost.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    ApplicationType,
    AuditEvent,
    BackOffice,
    Centre,
    FundOffice,
    Insurer,
    RefusalGround,
    ServiceCode,
    StaffRole,
    StaffUser,
)
from dost.registries import registries_for
from dost.services import applications, audit, notifications
from dost.services.actors import DEADLINE_SWEEP_LABEL, Actor
from dost.services.deadlines import (
    SLA_DUE_SOON,
    SLA_ON_TRACK,
    SLA_OVERDUE,
    Calendar,
    due_soon_limit,
    reminder_day,
    sla_state,
)
from dost.services.errors import Conflict, DomainError, Forbidden, NotFound
from dost.timeutil import utcnow

S = ApplicationStatus

# Local DSMF office code → the DOST centre that serves the office's online applications.
ONLINE_ROUTING: dict[str, str] = {"188": "BAK1", "101": "SUM", "132": "GNC"}
DEFAULT_ONLINE_CENTRE = "BAK1"

# The passport's back office that executes each service (item 11: "01 - DSMF" for this one).
SERVICE_BACK_OFFICE: dict[ServiceCode, BackOffice] = {ServiceCode.SSN_CERTIFICATE: BackOffice.DSMF}
BACK_OFFICE_STATUSES = (S.ORDERED, S.READY)

OPEN_STATUSES = (S.SUBMITTED, S.VERIFIED, S.ORDERED, S.READY)
CLOSED_STATUSES = (S.DELIVERED, S.REFUSED)
MAX_COMMENT = 2000
MAX_BULK = 100
PAGE_SIZE = 20

STATUS_LABELS = labels.APPLICATION_STATUS
STATUS_ICONS = {S.DRAFT: "✎", S.SUBMITTED: "✉", S.VERIFIED: "✔", S.ORDERED: "⚙", S.READY: "📦",
                S.DELIVERED: "✅", S.REFUSED: "✖"}
TYPE_LABELS = labels.APPLICATION_TYPE
GROUND_LABELS = labels.REFUSAL_GROUND
CHANNEL_LABELS = labels.CHANNEL
SLA_LABELS = {
    SLA_ON_TRACK: _l("Vaxtında"),
    SLA_DUE_SOON: _l("1 iş günü ərzində bitir"),
    SLA_OVERDUE: _l("Vaxtı keçib"),
}
SLA_ICONS = {SLA_ON_TRACK: "✔", SLA_DUE_SOON: "⏳", SLA_OVERDUE: "⚠"}
ROLE_LABELS = {
    StaffRole.AGENT: _l("Sosial agent"),
    StaffRole.BACKOFFICE: _l("Arxa ofis"),
    StaffRole.SUPERVISOR: _l("Nəzarətçi"),
    StaffRole.ADMIN: _l("Administrator"),
}
BACK_OFFICE_LABELS = {
    BackOffice.DSMF: "01 - DSMF",
    BackOffice.DMX: "02 - DMX",
    BackOffice.DEMX: "03 - DƏMX",
    BackOffice.DTSERX: "04 - DTSERX",
    BackOffice.DOST_AGENCY: _l("05 - DOST Agentliyi"),
    BackOffice.EESMN: "06 - ƏƏSMN",
}


@dataclass(frozen=True)
class Step:
    """One transition of the lifecycle: where it may start, where it ends, who may take it."""

    action: str
    sources: tuple[ApplicationStatus, ...]
    target: ApplicationStatus
    roles: tuple[StaffRole, ...]
    label: object


STEPS: dict[str, Step] = {
    "verify": Step("verify", (S.SUBMITTED,), S.VERIFIED, (StaffRole.AGENT,),
                   _l("Yoxla: məşğulluq və şəhadətnamə")),
    "order": Step("order", (S.VERIFIED,), S.ORDERED, (StaffRole.AGENT,), _l("Şəhadətnaməni sifariş et")),
    "ready": Step("ready", (S.ORDERED,), S.READY, (StaffRole.BACKOFFICE,), _l("Hazırlandı")),
    "deliver": Step("deliver", (S.READY,), S.DELIVERED, (StaffRole.AGENT,), _l("Təhvil ver")),
    "refuse": Step("refuse", (S.SUBMITTED, S.VERIFIED, S.ORDERED), S.REFUSED,
                   (StaffRole.AGENT, StaffRole.BACKOFFICE), _l("İmtina et")),
}


# --- who is acting and what they may see -------------------------------------------------------------------


def staff_user(session: Session, actor: Actor) -> StaffUser:
    """The active staff account behind the actor."""
    if actor.kind != "staff" or actor.staff_user_id is None:
        raise Forbidden("not_staff", _l("Bu əməliyyat yalnız DOST əməkdaşları üçündür."))
    user = session.get(StaffUser, actor.staff_user_id)
    if user is None or not user.active:
        raise Forbidden("not_staff", _l("Bu əməliyyat yalnız DOST əməkdaşları üçündür."))
    return user


def routed_centre_code(fund_office_code: str) -> str:
    """The centre serving online applications of insurers of this local DSMF office."""
    return ONLINE_ROUTING.get(fund_office_code, DEFAULT_ONLINE_CENTRE)


def covered_centres(session: Session, user: StaffUser) -> list[Centre]:
    """Centres in the user's scope (agent: its own; supervisor: its region's; others: all)."""
    query = select(Centre).order_by(Centre.code)
    if user.role == StaffRole.AGENT:
        query = query.where(Centre.id == user.centre_id) if user.centre_id else query.where(false())
    elif user.role == StaffRole.SUPERVISOR:
        query = query.where(Centre.region == user.region) if user.region else query.where(false())
    return list(session.scalars(query))


def centre_condition(centres: list[Centre]) -> ColumnElement[bool]:
    """Applications served by these centres: registered there, or online and routed there."""
    if not centres:
        return false()
    codes = {centre.code for centre in centres}
    offices = [office for office, centre in ONLINE_ROUTING.items() if centre in codes]
    office_match = FundOffice.code.in_(offices)
    if DEFAULT_ONLINE_CENTRE in codes:
        office_match = or_(office_match, FundOffice.code.not_in(list(ONLINE_ROUTING)))
    routed_insurers = select(Insurer.id).join(FundOffice, Insurer.fund_office_id == FundOffice.id).where(office_match)
    return or_(
        Application.centre_id.in_([centre.id for centre in centres]),
        and_(Application.centre_id.is_(None), Application.insurer_id.in_(routed_insurers)),
    )


def _serves_the_service(user: StaffUser) -> bool:
    return user.back_office is not None and user.back_office == SERVICE_BACK_OFFICE[ServiceCode.SSN_CERTIFICATE]


def scope_condition(session: Session, user: StaffUser) -> ColumnElement[bool]:
    """The applications a staff user may open and act on (drafts are the employer's own)."""
    submitted = Application.status != S.DRAFT
    if user.role == StaffRole.ADMIN:
        return submitted
    if user.role == StaffRole.BACKOFFICE:
        return Application.status.in_(BACK_OFFICE_STATUSES) if _serves_the_service(user) else false()
    return and_(submitted, centre_condition(covered_centres(session, user)))


def report_condition(session: Session, user: StaffUser) -> ColumnElement[bool]:
    """The applications a user's reports count: the back office counts every application it executes."""
    if user.role == StaffRole.BACKOFFICE:
        return Application.status != S.DRAFT if _serves_the_service(user) else false()
    return scope_condition(session, user)


def get_visible(session: Session, actor: Actor, application_id: int) -> Application:
    """An application in the actor's scope, else NotFound (404) so ids cannot be probed."""
    user = staff_user(session, actor)
    application = session.scalar(
        select(Application).where(Application.id == application_id, scope_condition(session, user))
    )
    if application is None:
        raise NotFound()
    return application


def centre_of(session: Session, application: Application) -> Centre | None:
    """The centre serving the application (its own, or the routed one for online applications)."""
    if application.centre_id is not None:
        return application.centre
    if application.insurer is None:
        return None
    code = routed_centre_code(application.insurer.fund_office.code)
    return session.scalar(select(Centre).where(Centre.code == code))


def allowed_actions(user: StaffUser, application: Application) -> list[str]:
    """The steps this user may take on the application now (for the page's buttons)."""
    return [name for name, step in STEPS.items() if user.role in step.roles and application.status in step.sources]


# --- the queue ---------------------------------------------------------------------------------------------


@dataclass
class QueueFilters:
    """Filters of the work queue; unknown values are ignored by the view before they get here."""

    status: str = "open"
    application_type: str = ""
    sla: str = ""
    insurer_id: int | None = None
    sort: str = "deadline"
    page: int = 1


@dataclass
class QueueRow:
    application: Application
    sla: str | None


@dataclass
class QueuePage:
    rows: list[QueueRow]
    page: int
    pages: int
    total: int
    filters: QueueFilters


def queue(session: Session, actor: Actor, filters: QueueFilters, on: date) -> QueuePage:
    """Applications in the user's scope, filtered, sorted by deadline, one page."""
    user = staff_user(session, actor)
    calendar = Calendar.load(session)
    conditions = [scope_condition(session, user)]
    if filters.status == "open":
        conditions.append(Application.status.in_(OPEN_STATUSES))
    elif filters.status in {status.value for status in S if status != S.DRAFT}:
        conditions.append(Application.status == S(filters.status))
    if filters.application_type in {kind.value for kind in ApplicationType}:
        conditions.append(Application.application_type == ApplicationType(filters.application_type))
    if filters.insurer_id is not None:
        conditions.append(Application.insurer_id == filters.insurer_id)
    if filters.sla:
        limit = due_soon_limit(calendar, on)
        sla_filter = {
            SLA_OVERDUE: Application.deadline < on,
            SLA_DUE_SOON: and_(Application.deadline >= on, Application.deadline <= limit),
            SLA_ON_TRACK: Application.deadline > limit,
        }.get(filters.sla, true())
        conditions += [Application.status.in_(OPEN_STATUSES), sla_filter]
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(Application).where(where)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    order = Application.deadline.desc().nulls_last() if filters.sort == "-deadline" else \
        Application.deadline.asc().nulls_last()
    items = session.scalars(
        select(Application).where(where).order_by(order, Application.id).limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    rows = [QueueRow(item, sla_state(calendar, item.deadline, on) if item.status in OPEN_STATUSES else None)
            for item in items]
    filters.page = page
    return QueuePage(rows, page, pages, total, filters)


def insurers_in_scope(session: Session, actor: Actor) -> list[Insurer]:
    """Insurers having applications in the user's scope (the queue's insurer filter)."""
    user = staff_user(session, actor)
    return list(session.scalars(
        select(Insurer).where(Insurer.id.in_(
            select(Application.insurer_id).where(scope_condition(session, user), Application.insurer_id.is_not(None))
        )).order_by(Insurer.full_name)
    ))


def sla_of(session: Session, application: Application, on: date) -> str | None:
    """The SLA badge of one open application."""
    if application.status not in OPEN_STATUSES:
        return None
    return sla_state(Calendar.load(session), application.deadline, on)


# --- transitions -------------------------------------------------------------------------------------------


def _conflict(session: Session, application_id: int) -> Conflict:
    last = session.execute(
        select(ApplicationStatusChange.actor_label, ApplicationStatusChange.at)
        .where(ApplicationStatusChange.application_id == application_id)
        .order_by(ApplicationStatusChange.id.desc()).limit(1)
    ).first()
    who = labels.actor_label(last.actor_label) if last else _l("başqa istifadəçi")
    when = i18n.Day(last.at) if last else ""
    return Conflict(
        "stale",
        _l("Müraciət artıq %(who)s tərəfindən dəyişdirilib (%(when)s). Səhifəni yeniləyin və yenidən cəhd edin.",
           who=who, when=when),
    )


def _prepare(session: Session, actor: Actor, application_id: int, version: int | None,
             action: str) -> tuple[StaffUser, Application]:
    """Scope, version, role and lifecycle checks, in that order; nothing is written."""
    user = staff_user(session, actor)
    application = get_visible(session, actor, application_id)
    if version is None:
        raise DomainError("version", _l("Formanın versiyası yoxdur. Səhifəni yeniləyin."))
    if application.version != version:
        raise _conflict(session, application.id)
    step = STEPS[action]
    if user.role not in step.roles:
        raise Forbidden("role", _l("Bu addım sizin rolunuz üçün nəzərdə tutulmayıb."))
    if application.status not in step.sources:
        raise DomainError(
            "illegal_transition",
            _l("«%(action)s» addımı yalnız %(allowed)s statusunda olan müraciət üçün mümkündür; bu müraciətin "
               "statusu: «%(status)s».",
               action=step.label,
               allowed=", ".join(f"«{STATUS_LABELS[s]}»" for s in step.sources),
               status=STATUS_LABELS[application.status]),
        )
    return user, application


# The audit action each step leaves (dost.services.processing._record).
STEP_EVENTS = {"verify": "application.verified", "order": "application.ordered", "ready": "application.ready",
               "deliver": "application.delivered", "refuse": "application.refused"}


def taken_by_actor(session: Session, actor: Actor, application_id: int, version: int | None, action: str) -> bool:
    """Whether this very step was taken on this version by this same user just now (a double click, two tabs, a
    retried request): the repeat then lands on the result instead of a conflict."""
    if version is None or action not in STEP_EVENTS:
        return False
    application = get_visible(session, actor, application_id)
    if application.version != version + 1:
        return False
    last = session.execute(
        select(AuditEvent.action, AuditEvent.staff_user_id)
        .where(AuditEvent.object_type == "application", AuditEvent.object_id == application_id,
               AuditEvent.action.in_(STEP_EVENTS.values()))
        .order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return last is not None and last.action == STEP_EVENTS[action] and last.staff_user_id == actor.staff_user_id


def _claim(session: Session, application: Application, version: int, target: ApplicationStatus,
           now: datetime, **values) -> ApplicationStatus:
    """Move to the target status only if nobody changed the application since the user saw `version`."""
    source = application.status
    changed = session.execute(
        update(Application)
        .where(Application.id == application.id, Application.version == version)
        .values(status=target, version=version + 1, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise _conflict(session, application.id)
    session.refresh(application)
    return source


def _record(session: Session, actor: Actor, application: Application, source: ApplicationStatus, action: str,
            now: datetime, note: object | None, changes: dict | None = None) -> None:
    # The note is kept as Azerbaijani text and as msgid + parameters, shown in each reader's language.
    key = i18n.freeze(note)
    session.add(ApplicationStatusChange(application=application, status=application.status, at=now,
                                        actor_label=actor.label, note=None if note is None else i18n.record_text(key),
                                        note_key=key if isinstance(key, dict) else None))
    audit.record(session, actor, f"application.{action}", "application", application.id,
                 {"status": [source, application.status], "version": application.version, **(changes or {})},
                 insurer_id=application.insurer_id)


def _number(application: Application) -> str:
    return application.registration_number or f"#{application.id}"


def _notify_status(session: Session, application: Application) -> None:
    notifications.post(
        session, application, notifications.KIND_STATUS,
        _l("Müraciət № %(number)s (%(person)s): status «%(status)s».", number=_number(application),
           person=f"{application.surname} {application.name} {application.patronymic}",
           status=STATUS_LABELS[application.status]),
    )


@dataclass
class CheckOutcome:
    """Results of the employment and certificate checks (the passport's steps 4 and 5)."""

    employment: str
    certificate: str
    certificate_id: int | None
    application: Application

    @property
    def passed(self) -> bool:
        return self.employment in ("employed", "no_insurer") and self.certificate == "active"


EMPLOYMENT_RESULTS = {
    "employed": _l("“Əmək müqaviləsi bildirişi”: şəxs sığortaedəndə işləyir."),
    "not_employed": _l("“Əmək müqaviləsi bildirişi”: şəxsin bu sığortaedənlə qüvvədə olan əmək müqaviləsi yoxdur."),
    "no_insurer": _l("“Əmək müqaviləsi bildirişi”: müraciət şəxsin özü adından verilib, işəgötürən yoxlanılmır."),
}
CERTIFICATE_RESULTS = {
    "active": _l("“Monitoring”: şəxsin qüvvədə olan şəhadətnaməsi tapıldı."),
    "missing": _l("“Monitoring”: şəxsin qüvvədə olan şəhadətnaməsi tapılmadı."),
    "superseded": _l("“Monitoring”: müraciətdəki şəhadətnamə artıq başqası ilə əvəz olunub."),
    "ssn_mismatch": _l("“Monitoring”: SSN bu şəxsə aid deyil."),
    "replacement_in_progress": _l("“Monitoring”: bu şəxs üçün başqa müraciət üzrə yeni şəhadətnamə artıq "
                                  "icradadır."),
}
# Past the checks: another application of the person in these statuses is a replacement under way.
REPLACEMENT_STATUSES = (S.VERIFIED, S.ORDERED, S.READY)


def _replacement_in_progress(session: Session, application: Application) -> str | None:
    """The number of another replacement of the person's certificate under way (ordered in "Monitoring", or
    another application past its checks), else None. The database allows one registered application per person;
    this guards data from before that rule and orders made outside this service."""
    other = session.scalar(
        select(Application.registration_number)
        .where(Application.person_id == application.person_id, Application.id != application.id,
               Application.status.in_(REPLACEMENT_STATUSES))
        .order_by(Application.id).limit(1)
    )
    if other is not None:
        return other
    ordered = registries_for(session).monitoring.ordered_for_person(application.person_id)
    if ordered is not None and ordered.certificate_id != application.new_certificate_id:
        return f"SSN {ordered.ssn}"
    return None


def verify(session: Session, actor: Actor, application_id: int, version: int | None, on: date) -> CheckOutcome:
    """Steps 4–5: employment and certificate checks, both recorded; when both pass the application is verified."""
    _, application = _prepare(session, actor, application_id, version, "verify")
    registries = registries_for(session)
    if application.insurer_id is None:
        employment = "no_insurer"
    elif registries.employment.is_employed(application.insurer_id, application.person_id, on):
        employment = "employed"
    else:
        employment = "not_employed"
    current = registries.monitoring.current_for_person(application.person_id)
    by_ssn = registries.monitoring.find_by_ssn(application.ssn)
    if current is None:
        certificate = "missing"
    elif current.certificate_id != application.certificate_id:
        certificate = "superseded"
    elif by_ssn is None or by_ssn.person_id != application.person_id:
        certificate = "ssn_mismatch"
    elif _replacement_in_progress(session, application) is not None:
        certificate = "replacement_in_progress"
    else:
        certificate = "active"
    outcome = CheckOutcome(employment, certificate, current.certificate_id if current else None, application)
    now = utcnow()
    source = None
    if outcome.passed:
        source = _claim(session, application, version, S.VERIFIED, now)
    audit.record(session, actor, "application.employment_checked", "application", application.id,
                 {"registry": "Əmək müqaviləsi bildirişi", "result": employment, "on": on},
                 insurer_id=application.insurer_id)
    audit.record(session, actor, "application.certificate_checked", "application", application.id,
                 {"registry": "Monitoring", "result": certificate, "certificate_id": outcome.certificate_id},
                 insurer_id=application.insurer_id)
    if source is not None:
        results = (EMPLOYMENT_RESULTS[employment], CERTIFICATE_RESULTS[certificate])
        note = _l("%(employment)s %(certificate)s", employment=results[0], certificate=results[1])
        _record(session, actor, application, source, "verified", now, note)
        _notify_status(session, application)
    session.flush()
    return outcome


def order(session: Session, actor: Actor, application_id: int, version: int | None, on: date) -> Application:
    """Step 6: order the new certificate (or its duplicate) through "Monitoring"."""
    _, application = _prepare(session, actor, application_id, version, "order")
    if (other := _replacement_in_progress(session, application)) is not None:
        raise DomainError(
            "replacement_in_progress",
            _l("Bu şəxs üçün başqa müraciət üzrə yeni şəhadətnamə artıq icradadır (%(other)s). İkinci şəhadətnamə "
               "sifariş edilə bilməz; bu müraciəti imtina ilə bağlayın.", other=other),
        )
    now = utcnow()
    # Claim first: the loser of a race never reaches the external order.
    source = _claim(session, application, version, S.ORDERED, now)
    ordered = registries_for(session).monitoring.order_replacement(application.certificate_id, on)
    application.new_certificate_id = ordered.certificate_id
    session.flush()
    _record(session, actor, application, source, "ordered", now,
            _l("Yeni şəhadətnamə sifariş edildi (SSN %(ssn)s).", ssn=ordered.ssn),
            {"new_certificate_id": ordered.certificate_id})
    _notify_status(session, application)
    session.flush()
    return application


def mark_ready(session: Session, actor: Actor, application_id: int, version: int | None) -> Application:
    """The back office marks the ordered certificate produced: ready for pickup at the centre."""
    _, application = _prepare(session, actor, application_id, version, "ready")
    now = utcnow()
    source = _claim(session, application, version, S.READY, now)
    centre = centre_of(session, application)
    centre_name = centre.name if centre else ""
    _record(session, actor, application, source, "ready", now,
            _l("Şəhadətnamə hazırlanıb: %(centre)s.", centre=centre_name))
    notifications.post(
        session, application, notifications.KIND_READY,
        _l("Müraciət № %(number)s (%(person)s): şəhadətnamə hazırdır və %(centre)s tərəfindən təhvil verilə bilər.",
           number=_number(application), person=f"{application.surname} {application.name} {application.patronymic}",
           centre=centre_name),
    )
    session.flush()
    return application


def deliver(session: Session, actor: Actor, application_id: int, version: int | None) -> Application:
    """Step 7: hand the certificate over; the new one becomes active and the old one replaced."""
    _, application = _prepare(session, actor, application_id, version, "deliver")
    if application.new_certificate_id is None:
        raise DomainError("no_certificate", _l("Sifariş edilmiş şəhadətnamə tapılmadı."))
    now = utcnow()
    source = _claim(session, application, version, S.DELIVERED, now, completed_at=now, open_key=None)
    registries_for(session).monitoring.activate_replacement(application.certificate_id,
                                                            application.new_certificate_id)
    applications.supersede_earlier_notices(session, application)
    _record(session, actor, application, source, "delivered", now,
            _l("Şəhadətnamə təhvil verildi; əvvəlki şəhadətnamə əvəz olundu."),
            {"replaced_certificate_id": application.certificate_id,
             "active_certificate_id": application.new_certificate_id})
    _notify_status(session, application)
    session.flush()
    return application


def refuse(session: Session, actor: Actor, application_id: int, version: int | None, ground: str | None,
           comment: str | None) -> Application:
    """Refuse with one of the passport's grounds (item 9) and a comment the employer sees."""
    _, application = _prepare(session, actor, application_id, version, "refuse")
    try:
        refusal_ground = RefusalGround(ground or "")
    except ValueError:
        raise DomainError("required", _l("İmtina əsasını seçin."), "ground") from None
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(
            "too_long",
            _l("Şərh ən çox %(max)d simvol ola bilər (daxil edilib: %(count)d).", max=MAX_COMMENT,
               count=len(comment)),
            "comment",
        )
    now = utcnow()
    source = _claim(session, application, version, S.REFUSED, now, refusal_ground=refusal_ground,
                    refusal_comment=comment or None, completed_at=now, open_key=None)
    changes: dict = {"refusal_ground": refusal_ground, "refusal_comment": comment}
    if application.new_certificate_id is not None:
        # Refused after the order: the ordered certificate is never handed over, and the one in force stays so.
        registries_for(session).monitoring.cancel_replacement(application.new_certificate_id)
        changes["cancelled_certificate_id"] = application.new_certificate_id
    ground_label = GROUND_LABELS[refusal_ground]
    _record(session, actor, application, source, "refused", now,
            _l("%(ground)s: %(comment)s", ground=ground_label, comment=comment) if comment else ground_label,
            changes)
    message = _l("Müraciət № %(number)s (%(person)s) üzrə imtina edildi. İmtina əsası: %(ground)s.",
                 number=_number(application),
                 person=f"{application.surname} {application.name} {application.patronymic}", ground=ground_label)
    if comment:
        message = _l("%(message)s Şərh: %(comment)s", message=message, comment=comment)
    notifications.post(session, application, notifications.KIND_REFUSED, message)
    session.flush()
    return application


@dataclass
class BulkRow:
    """The result of one application of a bulk action."""

    application_id: int
    label: str
    ok: bool
    message: str


def bulk_order(session: Session, actor: Actor, items: list[tuple[int, int]], on: date) -> list[BulkRow]:
    """Order several applications; each row succeeds whole or is left untouched, with its own result."""
    user = staff_user(session, actor)
    if user.role not in STEPS["order"].roles:
        raise Forbidden("role", _l("Bu addım sizin rolunuz üçün nəzərdə tutulmayıb."))
    unique: dict[int, int] = {}
    for application_id, version in items:
        unique.setdefault(application_id, version)
    if not unique:
        raise DomainError("empty", _l("Heç bir müraciət seçilməyib."), "ids")
    if len(unique) > MAX_BULK:
        raise DomainError("too_many", _l("Bir dəfəyə ən çox %(max)d müraciət seçilə bilər.", max=MAX_BULK), "ids")
    rows: list[BulkRow] = []
    for application_id, version in unique.items():
        try:
            # Every check of order() runs before its first write, so a refused row leaves nothing behind.
            application = order(session, actor, application_id, version, on)
        except NotFound:
            rows.append(BulkRow(application_id, f"#{application_id}", False, str(_l("Müraciət tapılmadı."))))
        except DomainError as error:
            visible = session.get(Application, application_id)
            rows.append(BulkRow(application_id, _number(visible) if visible else f"#{application_id}", False,
                                str(error.message)))
        else:
            rows.append(BulkRow(application_id, _number(application), True, str(_l("Sifariş edildi."))))
    return rows


# --- timeline ----------------------------------------------------------------------------------------------

ACTION_LABELS = {
    "application.draft_created": _l("Qaralama yaradıldı"),
    "application.draft_updated": _l("Qaralama dəyişdirildi"),
    "application.created": _l("Müraciət yaradıldı"),
    "application.confirmed": _l("Təsdiqləndi: qeydiyyat nömrəsi və bildiriş verildi"),
    "application.walk_in_created": _l("DOST mərkəzində qəbul edildi"),
    "application.employment_checked": _l("Məşğulluq yoxlanıldı"),
    "application.certificate_checked": _l("Şəhadətnamə yoxlanıldı"),
    "application.verified": _l("Yoxlanıldı"),
    "application.ordered": _l("Şəhadətnamə sifariş edildi"),
    "application.ready": _l("Şəhadətnamə hazırlandı"),
    "application.delivered": _l("Təhvil verildi"),
    "application.refused": _l("İmtina edildi"),
    "application.reminder_sent": _l("Müddət barədə xatırlatma göndərildi"),
    "application.overdue_flagged": _l("Vaxtı keçmiş kimi qeyd edildi"),
    "application.deadline_recomputed": _l("Qeyri-iş günü ilə əlaqədar müddət yenidən hesablandı"),
}


def timeline(session: Session, application: Application) -> list[AuditEvent]:
    """Every audit event of the application, oldest first."""
    return audit.events_for(session, "application", application.id)


# --- the deadline sweep (cron) -----------------------------------------------------------------------------


@dataclass
class SweepResult:
    checked: int = 0
    reminders: int = 0
    overdue: int = 0
    reminded_ids: list[int] = field(default_factory=list)
    overdue_ids: list[int] = field(default_factory=list)


def sweep(session: Session, on: date) -> SweepResult:
    """Post the deadline reminder (step 8) and flag overdue applications; running it again changes nothing."""
    actor = Actor.system(DEADLINE_SWEEP_LABEL)
    calendar = Calendar.load(session)
    result = SweepResult()
    now = utcnow()
    candidates = list(session.scalars(
        select(Application)
        .where(Application.status.in_(OPEN_STATUSES), Application.deadline.is_not(None))
        .order_by(Application.id)
    ))
    for application in candidates:
        result.checked += 1
        deadline = application.deadline
        if on > deadline:
            if application.overdue_flagged_at is None:
                application.overdue_flagged_at = now
                session.flush()
                audit.record(session, actor, "application.overdue_flagged", "application", application.id,
                             {"deadline": deadline, "on": on}, insurer_id=application.insurer_id)
                result.overdue += 1
                result.overdue_ids.append(application.id)
            continue
        if on < reminder_day(calendar, deadline) or application.insurer_id is None:
            continue
        posted = notifications.post(
            session, application, notifications.KIND_REMINDER,
            _l("Müraciət № %(number)s (%(person)s): xidmətin göstərilmə müddəti %(deadline)s tarixində başa "
               "çatır. Cari status: «%(status)s».",
               number=_number(application),
               person=f"{application.surname} {application.name} {application.patronymic}",
               deadline=i18n.Day(deadline), status=STATUS_LABELS[application.status]),
            dedupe_key=f"deadline-reminder:{application.id}:{deadline.isoformat()}",
        )
        if posted is None:
            continue
        application.reminder_sent_at = now
        session.flush()
        audit.record(session, actor, "application.reminder_sent", "application", application.id,
                     {"deadline": deadline, "notification_id": posted.id}, insurer_id=application.insurer_id)
        result.reminders += 1
        result.reminded_ids.append(application.id)
    return result


# --- walk-in applications (the passport's steps 1–3 at the centre) ------------------------------------------


def _walk_in_insurer(session: Session, voen: str | None) -> int | None:
    """The employer the person applies through, by VÖEN (empty: the person applies for themselves)."""
    voen = (voen or "").strip()
    if not voen:
        return None
    if not validation.VOEN_RE.fullmatch(voen):
        raise DomainError("format", _l("VÖEN 10 rəqəmdən ibarət olmalıdır."), "voen")
    insurer_id = session.scalar(select(Insurer.id).where(Insurer.voen == voen))
    if insurer_id is None:
        raise DomainError("unknown_voen", _l("Bu VÖEN ilə sığortaedən tapılmadı."), "voen")
    return insurer_id


def _agent(session: Session, actor: Actor) -> StaffUser:
    user = staff_user(session, actor)
    if user.role != StaffRole.AGENT or user.centre_id is None:
        raise Forbidden("role", _l("Müraciəti yalnız DOST mərkəzinin sosial agenti qəbul edə bilər."))
    return user


def look_up_walk_in(session: Session, actor: Actor, data: applications.IdentityInput, voen: str | None,
                    on: date) -> applications.PersonLookup:
    """Axtar at the desk: the registry record behind the FİN and SSN, under the employer wizard's rules."""
    _agent(session, actor)
    return applications.validate_person(session, _walk_in_insurer(session, voen), data, on)


def register_walk_in(session: Session, actor: Actor, data: applications.IdentityInput, reason: str | None,
                     voen: str | None, representative: applications.Representative | None, on: date,
                     base_url: str) -> Application:
    """Register a walk-in application at the agent's centre (in person or through a representative); the
    employer wizard's rules apply, the application is submitted at once and its notice issued."""
    user = _agent(session, actor)
    return applications.create_walk_in(session, actor, data, reason, _walk_in_insurer(session, voen),
                                       user.centre_id, representative, on, base_url)


def notice_pdf(session: Session, actor: Actor, application_id: int) -> bytes:
    """The fixed bytes of an application's notice, for printing at the centre."""
    application = get_visible(session, actor, application_id)
    if application.notice is None:
        raise NotFound()
    return application.notice.pdf
