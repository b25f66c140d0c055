"""Service deadlines from the service passport: calendar or working days, Azerbaijan's holidays, extra closures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dost.models import Application, ApplicationStatus, NonWorkingDay, ServiceCode, ServiceSetting
from dost.services import audit
from dost.services.actors import Actor
from dost.services.errors import DomainError, Forbidden, NotFound
from dost.timeutil import local

PASSPORT_DEFAULTS = {"total_days": 30, "front_office_days": 2, "back_office_days": 28, "working_days": False}


@lru_cache(maxsize=32)
def _country_calendar(year: int) -> holidays.HolidayBase:
    # One year per object: the package would otherwise add years to a shared object as they are asked for.
    return holidays.country_holidays("AZ", years=year)


class Calendar:
    """Working days as the holidays package knows Azerbaijan's (weekends, public holidays and the days carried
    over from them, Saturdays a Cabinet decision makes working days), less the administrator's extra closures."""

    def __init__(self, extra_closed: set[date]):
        self.extra_closed = extra_closed

    @classmethod
    def load(cls, session: Session) -> Calendar:
        return cls(set(session.scalars(select(NonWorkingDay.day))))

    def is_working_day(self, day: date) -> bool:
        return day not in self.extra_closed and _country_calendar(day.year).is_working_day(day)

    def working_day_from(self, day: date) -> date:
        """The day itself when it is a working day, else the next working day (where a term ending on a rest
        day ends)."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: date, days: int) -> date:
        """The day on which `days` working days after `start` have passed (start itself not counted)."""
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def previous_working_day(self, day: date) -> date:
        current = day - timedelta(days=1)
        while not self.is_working_day(current):
            current -= timedelta(days=1)
        return current


@dataclass(frozen=True)
class Deadlines:
    front_office: date
    total: date


def settings_for(session: Session, service: ServiceCode) -> ServiceSetting:
    """The service's deadline settings (the passport's figures when none are stored)."""
    setting = session.scalar(select(ServiceSetting).where(ServiceSetting.service == service))
    return setting or ServiceSetting(service=service, **PASSPORT_DEFAULTS)


def deadlines_for(session: Session, service: ServiceCode, start: date) -> Deadlines:
    """Front-office and total deadlines of an application registered on `start`."""
    return compute_deadlines(settings_for(session, service), Calendar.load(session), start)


def compute_deadlines(setting: ServiceSetting, calendar: Calendar, start: date) -> Deadlines:
    """In working days, or in calendar days where a term whose last day is not a working day ends on the next
    working day."""
    if setting.working_days:
        return Deadlines(
            front_office=calendar.add_working_days(start, setting.front_office_days),
            total=calendar.add_working_days(start, setting.total_days),
        )
    return Deadlines(
        front_office=calendar.working_day_from(start + timedelta(days=setting.front_office_days)),
        total=calendar.working_day_from(start + timedelta(days=setting.total_days)),
    )


# --- SLA state, reminders and the administrator's calendar/settings (staff back office) ---

SLA_ON_TRACK = "on_track"
SLA_DUE_SOON = "due_soon"
SLA_OVERDUE = "overdue"


def due_soon_limit(calendar: Calendar, on: date) -> date:
    """Deadlines up to this day are due within one working day."""
    return calendar.add_working_days(on, 1)


def sla_state(calendar: Calendar, deadline: date | None, on: date) -> str | None:
    """on_track, due_soon (within one working day) or overdue; None without a deadline."""
    if deadline is None:
        return None
    if on > deadline:
        return SLA_OVERDUE
    if deadline <= due_soon_limit(calendar, on):
        return SLA_DUE_SOON
    return SLA_ON_TRACK


def reminder_day(calendar: Calendar, deadline: date) -> date:
    """The passport's step 8: the employer is told at least one working day before the deadline."""
    return calendar.previous_working_day(deadline)


# The holidays package names Azerbaijan's holidays in Azerbaijani and English only; Russian readers get az.
HOLIDAY_LANGUAGES = {"az": "az", "en": "en_US"}


def public_holidays(year: int, locale: str = "az") -> list[tuple[date, str]]:
    """Azerbaijan's public holidays of a year with their names (in English for an English reader)."""
    language = HOLIDAY_LANGUAGES.get(locale, "az")
    return sorted(holidays.country_holidays("AZ", years=year, language=language).items())


def _require_admin(actor: Actor) -> None:
    if actor.kind != "staff" or actor.role != "admin":
        raise Forbidden("forbidden", _l("Bu əməliyyat yalnız administrator üçündür."))


def add_non_working_day(session: Session, actor: Actor, day: date | None, description: str) -> NonWorkingDay:
    """Declare an extra non-working day (a closure such as Novruz or the pandemic's)."""
    _require_admin(actor)
    description = (description or "").strip()
    if day is None:
        raise DomainError("required", _l("Tarixi daxil edin."), "day")
    if not description:
        raise DomainError("required", _l("Qeyri-iş gününün səbəbini daxil edin."), "description")
    if len(description) > 200:
        raise DomainError("too_long", _l("Ən çox %(max)d simvol daxil edilə bilər.", max=200), "description")
    if session.scalar(select(NonWorkingDay.id).where(NonWorkingDay.day == day)) is not None:
        raise DomainError("duplicate", _l("Bu tarix artıq qeyri-iş günü kimi qeyd olunub."), "day")
    before = Calendar.load(session)
    item = NonWorkingDay(day=day, description=description)
    session.add(item)
    session.flush()
    audit.record(session, actor, "calendar.day_added", "non_working_day", item.id,
                 {"day": day, "description": description})
    recompute_running(session, actor, day, before, Calendar.load(session))
    return item


def remove_non_working_day(session: Session, actor: Actor, item_id: int) -> None:
    """Remove an extra non-working day."""
    _require_admin(actor)
    item = session.get(NonWorkingDay, item_id)
    if item is None:
        raise NotFound()
    audit.record(session, actor, "calendar.day_removed", "non_working_day", item.id,
                 {"day": item.day, "description": item.description})
    before = Calendar.load(session)
    day = item.day
    session.delete(item)
    session.flush()
    recompute_running(session, actor, day, before, Calendar.load(session))


def recompute_running(session: Session, actor: Actor, day: date, before: Calendar, after: Calendar) -> int:
    """A closure declared or withdrawn on `day` moves the deadlines of running applications it falls into; each
    change is audited. Only deadlines that the service's settings and the earlier calendar give are moved: one
    registered under other settings keeps what it was given, as a settings change leaves it."""
    setting = settings_for(session, ServiceCode.SSN_CERTIFICATE)
    running = session.scalars(
        select(Application)
        .where(Application.status.in_((ApplicationStatus.SUBMITTED, ApplicationStatus.VERIFIED,
                                       ApplicationStatus.ORDERED, ApplicationStatus.READY)),
               Application.submitted_at.is_not(None), Application.deadline >= day)
        .order_by(Application.id)
    ).all()
    moved = 0
    for application in running:
        start = local(application.submitted_at).date()
        if start >= day:
            continue
        was = compute_deadlines(setting, before, start)
        if (application.front_office_deadline, application.deadline) != (was.front_office, was.total):
            continue
        now = compute_deadlines(setting, after, start)
        if now == was:
            continue
        application.front_office_deadline, application.deadline = now.front_office, now.total
        session.flush()
        changes = {"closure": day}
        if now.front_office != was.front_office:
            changes["front_office_deadline"] = [was.front_office, now.front_office]
        if now.total != was.total:
            changes["deadline"] = [was.total, now.total]
        audit.record(session, actor, "application.deadline_recomputed", "application", application.id, changes,
                     insurer_id=application.insurer_id)
        moved += 1
    return moved


def update_settings(session: Session, actor: Actor, service: ServiceCode, total_days: int | None,
                    front_office_days: int | None, back_office_days: int | None, working_days: bool) -> ServiceSetting:
    """Change a service's deadlines; applications already registered keep the deadlines they were given."""
    _require_admin(actor)
    figures = {"total_days": total_days, "front_office_days": front_office_days,
               "back_office_days": back_office_days}
    for name, value in figures.items():
        if value is None:
            raise DomainError("required", _l("Günlərin sayını daxil edin."), name)
        if not 1 <= value <= 365:
            raise DomainError("range", _l("Müddət 1 ilə 365 gün arasında olmalıdır."), name)
    if front_office_days + back_office_days != total_days:
        raise DomainError("sum", _l("Ön ofis və arxa ofis müddətlərinin cəmi ümumi müddətə bərabər olmalıdır."),
                          "total_days")
    setting = session.scalar(select(ServiceSetting).where(ServiceSetting.service == service))
    if setting is None:
        setting = ServiceSetting(service=service, **PASSPORT_DEFAULTS)
        session.add(setting)
        session.flush()
    before = {"total_days": setting.total_days, "front_office_days": setting.front_office_days,
              "back_office_days": setting.back_office_days, "working_days": setting.working_days}
    after = {**figures, "working_days": bool(working_days)}
    for name, value in after.items():
        setattr(setting, name, value)
    session.flush()
    changes = {name: [before[name], value] for name, value in after.items() if before[name] != value}
    audit.record(session, actor, "service_setting.updated", "service_setting", setting.id,
                 {"service": service, **changes})
    return setting
