"""Working-day deadlines, SLA states, the admin's calendar and settings, and the idempotent sweep."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from dost.models import Application, ApplicationStatus, AuditEvent, NonWorkingDay, Notification, ServiceCode
from dost.services import deadlines, processing
from dost.services.deadlines import SLA_DUE_SOON, SLA_ON_TRACK, SLA_OVERDUE, Calendar
from dost.services.errors import DomainError, Forbidden
from tests.staff_support import actor, employees, submit

FRIDAY = date(2026, 11, 6)
MONDAY = date(2026, 11, 16)  # after the Victory Day (8 Nov) and Flag Day (9 Nov) holidays of the week before


def test_working_days_skip_weekends_public_holidays_and_extra_closures():
    calendar = Calendar(set())
    assert not calendar.is_working_day(date(2026, 11, 7))  # Saturday
    assert not calendar.is_working_day(date(2026, 3, 20))  # Novruz
    assert calendar.is_working_day(date(2026, 11, 11))
    assert calendar.add_working_days(date(2026, 3, 19), 1) == date(2026, 3, 31)
    closed = Calendar({date(2026, 11, 11)})
    assert not closed.is_working_day(date(2026, 11, 11))
    assert closed.add_working_days(date(2026, 11, 10), 1) == date(2026, 11, 12)
    assert calendar.working_days_between(FRIDAY, date(2026, 11, 13)) == 3  # 11, 12, 13 (9 and 10 Nov holidays)


@pytest.mark.parametrize("deadline,state", [
    (None, None),
    (date(2026, 11, 5), SLA_OVERDUE),
    (FRIDAY, SLA_DUE_SOON),
    (date(2026, 11, 11), SLA_DUE_SOON),  # the next working day after Friday (Mon 9 and Tue 10 are holidays)
    (date(2026, 11, 12), SLA_ON_TRACK),
])
def test_sla_state_counts_working_days(deadline, state):
    assert deadlines.sla_state(Calendar(set()), deadline, FRIDAY) == state


def test_reminder_day_is_the_working_day_before_the_deadline():
    assert deadlines.reminder_day(Calendar(set()), MONDAY) == date(2026, 11, 13)
    assert deadlines.reminder_day(Calendar(set()), date(2026, 11, 11)) == FRIDAY


def test_settings_switch_to_working_days(session):
    admin = actor(session, "admin")
    start = date(2026, 11, 2)
    assert deadlines.deadlines_for(session, ServiceCode.SSN_CERTIFICATE, start).total == start + timedelta(days=30)
    deadlines.update_settings(session, admin, ServiceCode.SSN_CERTIFICATE, 30, 2, 28, True)
    limits = deadlines.deadlines_for(session, ServiceCode.SSN_CERTIFICATE, start)
    assert limits.front_office == date(2026, 11, 4)
    assert limits.total == Calendar.load(session).add_working_days(start, 30)
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "service_setting.updated")) is not None


@pytest.mark.parametrize("figures,field", [
    ((None, 2, 28), "total_days"),
    ((30, 0, 30), "front_office_days"),
    ((30, 2, 27), "total_days"),
    ((30, 2, 1000), "back_office_days"),
])
def test_bad_settings_are_refused(session, figures, field):
    with pytest.raises(DomainError) as caught:
        deadlines.update_settings(session, actor(session, "admin"), ServiceCode.SSN_CERTIFICATE, *figures, False)
    assert caught.value.field == field


def test_only_the_administrator_changes_the_calendar(session):
    with pytest.raises(Forbidden):
        deadlines.add_non_working_day(session, actor(session, "agent.bak1"), MONDAY, "x")
    item = deadlines.add_non_working_day(session, actor(session, "admin"), MONDAY, "Pandemiya: xüsusi rejim")
    assert not Calendar.load(session).is_working_day(MONDAY)
    with pytest.raises(DomainError) as caught:
        deadlines.add_non_working_day(session, actor(session, "admin"), MONDAY, "təkrar")
    assert caught.value.field == "day"
    deadlines.remove_non_working_day(session, actor(session, "admin"), item.id)
    assert Calendar.load(session).is_working_day(MONDAY)


def _open_with_deadlines(session):
    people = employees(session)
    return {
        "tomorrow": submit(session, person=people[0], deadline=MONDAY),            # reminder due on Friday 13
        "later": submit(session, person=people[1], deadline=date(2026, 11, 30)),  # not yet
        "late": submit(session, person=people[2], deadline=date(2026, 11, 12)),   # overdue
        "walk_in": submit(session, person=people[3], voen=None, centre_code="BAK1", deadline=MONDAY),
        "closed": submit(session, person=people[4], deadline=date(2026, 11, 10),
                         status=ApplicationStatus.DELIVERED),
    }


def test_sweep_reminds_one_working_day_before_and_flags_overdue_once(session):
    apps = _open_with_deadlines(session)
    on = date(2026, 11, 13)
    first = processing.sweep(session, on)
    assert (first.reminders, first.overdue) == (1, 1)
    assert first.reminded_ids == [apps["tomorrow"].id] and first.overdue_ids == [apps["late"].id]
    assert apps["tomorrow"].reminder_sent_at is not None and apps["late"].overdue_flagged_at is not None
    note = session.scalar(select(Notification).where(Notification.kind == "deadline_reminder"))
    assert note.application_id == apps["tomorrow"].id and "16.11.2026" in note.message
    second = processing.sweep(session, on)
    assert (second.reminders, second.overdue) == (0, 0)
    assert session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.kind == "deadline_reminder")) == 1
    third = processing.sweep(session, date(2026, 11, 27))
    assert third.reminded_ids == [apps["later"].id] and third.overdue_ids == [apps["tomorrow"].id, apps["walk_in"].id]


def test_sweep_command_prints_counts_and_is_idempotent(app, runner):
    from dost.extensions import db
    from dost.timeutil import today

    with app.app_context():
        submit(db.session, deadline=today() + timedelta(days=1) if deadlines.Calendar.load(db.session)
               .is_working_day(today() + timedelta(days=1)) else today())
        submit(db.session, person=employees(db.session)[1], deadline=today() - timedelta(days=3))
        db.session.commit()
    first = runner.invoke(args=["dost", "sweep"])
    assert first.exit_code == 0, first.output
    assert "1 reminders posted, 1 flagged overdue" in first.output
    second = runner.invoke(args=["dost", "sweep"])
    assert "0 reminders posted, 0 flagged overdue" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Application)
                                 .where(Application.overdue_flagged_at.is_not(None))) == 1


def test_admin_calendar_and_settings_pages(client, session):
    from tests.staff_support import sign_in_staff

    sign_in_staff(client, "admin")
    page = client.get("/staff/admin/calendar?year=2026").get_data(as_text=True)
    assert "Novruz" in page or "Novruz bayramı" in page
    response = client.post("/staff/admin/calendar", data={"day": "31.02.2026", "description": "x"})
    assert response.status_code == 400 and "gg.aa.iiii" in response.get_data(as_text=True)
    response = client.post("/staff/admin/calendar", data={"day": "2026-11-16", "description": ""})
    assert response.status_code == 400 and "səbəbini daxil edin" in response.get_data(as_text=True)
    response = client.post("/staff/admin/calendar", data={"day": "2026-11-16", "description": "Xüsusi rejim"})
    assert response.status_code == 302
    assert session.scalar(select(NonWorkingDay).where(NonWorkingDay.day == MONDAY)) is not None
    response = client.post("/staff/admin/settings", data={"total_days": "abc", "front_office_days": "2",
                                                          "back_office_days": "28", "unit": "working"})
    assert response.status_code == 400 and "Tam ədəd daxil edin." in response.get_data(as_text=True)
    response = client.post("/staff/admin/settings", data={"total_days": "31", "front_office_days": "2",
                                                          "back_office_days": "28", "unit": "working"})
    assert response.status_code == 400 and "cəmi ümumi müddətə bərabər" in response.get_data(as_text=True)
    response = client.post("/staff/admin/settings", data={"total_days": "30", "front_office_days": "2",
                                                          "back_office_days": "28", "unit": "working"})
    assert response.status_code == 302
    assert deadlines.settings_for(session, ServiceCode.SSN_CERTIFICATE).working_days is True


def test_admin_pages_are_for_the_administrator_only(client):
    from tests.staff_support import sign_in_staff

    sign_in_staff(client, "agent.bak1")
    for url in ("/staff/admin/users", "/staff/admin/calendar", "/staff/admin/settings"):
        assert client.get(url).status_code == 403


@pytest.mark.parametrize("confirmed,front_office,total", [
    # 5 Dec 2026 is a Saturday; 2 Jan 2027 a Saturday holiday, carried over to Monday 4 Jan.
    (date(2026, 12, 3), date(2026, 12, 7), date(2027, 1, 5)),
    # Novruz and Ramazan 2026: 21 Mar is a holiday Saturday, the rest days run to 30 Mar; 18 Apr is a Saturday.
    (date(2026, 3, 19), date(2026, 3, 31), date(2026, 4, 20)),
    (date(2026, 11, 2), date(2026, 11, 4), date(2026, 12, 2)),
])
def test_a_term_in_calendar_days_ending_on_a_rest_day_ends_on_the_next_working_day(session, confirmed, front_office,
                                                                                      total):
    limits = deadlines.deadlines_for(session, ServiceCode.SSN_CERTIFICATE, confirmed)
    assert (limits.front_office, limits.total) == (front_office, total)


def test_a_rest_day_made_a_working_day_by_decree_counts():
    # The holidays package's weekend_workdays: Sunday 29 Dec 2024 was a working day (the New Year transfer).
    assert Calendar(set()).is_working_day(date(2024, 12, 29))
    assert Calendar(set()).working_day_from(date(2024, 12, 29)) == date(2024, 12, 29)
    assert not Calendar({date(2024, 12, 29)}).is_working_day(date(2024, 12, 29))


def test_a_closure_moves_the_deadlines_it_falls_into_and_is_audited(session):
    admin = actor(session, "admin")
    start = date(2026, 11, 2)
    affected = submit(session, on=start)
    assert (affected.front_office_deadline, affected.deadline) == (date(2026, 11, 4), date(2026, 12, 2))
    later = submit(session, person=employees(session)[1], on=date(2026, 12, 2))
    before_later = (later.front_office_deadline, later.deadline)
    item = deadlines.add_non_working_day(session, admin, date(2026, 12, 2), "Xüsusi rejim")
    assert affected.deadline == date(2026, 12, 3) and affected.front_office_deadline == date(2026, 11, 4)
    # Registered on the closure itself: its terms start from that day and are unchanged.
    assert (later.front_office_deadline, later.deadline) == before_later
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "application.deadline_recomputed")).one()
    assert event.object_id == affected.id and event.staff_user_id == admin.staff_user_id
    assert event.changes == {"closure": "2026-12-02", "deadline": ["2026-12-02", "2026-12-03"]}
    deadlines.remove_non_working_day(session, admin, item.id)
    assert affected.deadline == date(2026, 12, 2)
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "application.deadline_recomputed")) == 2


def test_a_closure_in_working_day_mode_adds_a_day_to_every_term_it_falls_into(session):
    admin = actor(session, "admin")
    deadlines.update_settings(session, admin, ServiceCode.SSN_CERTIFICATE, 30, 2, 28, True)
    application = submit(session, on=date(2026, 11, 2))
    front_office, total = application.front_office_deadline, application.deadline
    deadlines.add_non_working_day(session, admin, date(2026, 11, 3), "Xüsusi rejim")
    calendar = Calendar.load(session)
    assert application.front_office_deadline == calendar.add_working_days(front_office, 1)
    assert application.deadline == calendar.add_working_days(total, 1)
