"""Control reports: counts, refusals by ground, overdue, working-day processing times, CSV and the SVG chart."""

import csv
import io
import re
from datetime import UTC, date, datetime, time

import pytest

from dost.models import ApplicationStatus, RefusalGround
from dost.services import reports
from dost.services.errors import DomainError
from dost.timeutil import BAKU
from tests.staff_support import INSURER_B, actor, employees, sign_in_staff, submit

S = ApplicationStatus
START, END, ON = date(2026, 10, 5), date(2026, 11, 1), date(2026, 11, 22)


def _at(day: date):
    return datetime.combine(day, time(15, 0), tzinfo=BAKU).astimezone(UTC)


def _history(session):
    people = employees(session)

    def case(person, submitted, status=S.SUBMITTED, answered=None, ground=None, deadline=None, voen=None):
        application = submit(session, person=person, on=submitted, deadline=deadline,
                             **({"voen": voen} if voen else {}))
        application.status = status
        application.completed_at = _at(answered) if answered else None
        application.refusal_ground = ground
        return application

    case(people[0], date(2026, 10, 5), S.DELIVERED, date(2026, 10, 9))
    case(people[1], date(2026, 10, 6), S.DELIVERED, date(2026, 10, 20))
    case(people[2], date(2026, 10, 12), S.REFUSED, date(2026, 10, 13), RefusalGround.INCOMPLETE_DOCUMENTS)
    case(people[3], date(2026, 10, 13), S.REFUSED, date(2026, 10, 27), RefusalGround.NO_LEGAL_BASIS,
         deadline=date(2026, 10, 20))
    case(people[4], date(2026, 10, 1), S.ORDERED, deadline=date(2026, 10, 31))
    case(people[5], date(2026, 10, 28), S.VERIFIED)
    case(employees(session, INSURER_B)[0], date(2026, 10, 7), S.DELIVERED, date(2026, 10, 16), voen=INSURER_B)
    session.flush()


def test_report_of_an_agents_centre(session):
    _history(session)
    report = reports.build(session, actor(session, "agent.bak1"), START, END, ON)
    assert [row.key for row in report.rows] == ["BAK1"]
    row = report.rows[0]
    assert (row.received, row.completed, row.overdue) == (5, 2, 2)
    assert row.refused == {RefusalGround.INCOMPLETE_DOCUMENTS: 1, RefusalGround.NO_LEGAL_BASIS: 1}
    assert sorted(row.durations) == [1, 4, 10, 10]
    assert row.median == 7 and row.p90 == 10 and row.on_time_share == 0.75


def test_report_of_the_administrator_has_every_centre_and_a_total(session):
    _history(session)
    report = reports.build(session, actor(session, "admin"), START, END, ON)
    assert [row.key for row in report.rows] == ["BAK1", "SUM"]
    total = report.total
    assert (total.received, total.completed, total.refused_total, total.overdue) == (6, 3, 2, 2)
    assert total.median == 7 and total.p90 == 10 and total.on_time_share == pytest.approx(0.8)
    assert [(w.start, w.received, w.answered) for w in report.weeks] == [
        (date(2026, 10, 5), 3, 1), (date(2026, 10, 12), 2, 2), (date(2026, 10, 19), 0, 1), (date(2026, 10, 26), 1, 1)]
    by_office = reports.build(session, actor(session, "backoffice.dsmf"), START, END, ON, group_by="back_office")
    assert [(row.label, row.received) for row in by_office.rows] == [("01 - DSMF", 6)]


@pytest.mark.parametrize("start,end,field", [(None, END, "start"), (START, None, "end"), (END, START, "end"),
                                             (date(2020, 1, 1), END, "end")])
def test_bad_periods(session, start, end, field):
    with pytest.raises(DomainError) as caught:
        reports.build(session, actor(session, "admin"), start, end, ON)
    assert caught.value.field == field


def test_csv_export(client, session):
    _history(session)
    session.commit()
    sign_in_staff(client, "admin")
    response = client.get(f"/staff/reports.csv?start={START}&end={END}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Bölmə", "Daxil olub", "İcra olunub"]
    assert rows[-1][0] == "Cəmi" and rows[-1][1:4] == ["6", "3", "1"]
    assert rows[-1][-1] == "80.0"


def test_report_page_with_svg_chart_and_no_inline_styles(client, session):
    _history(session)
    session.commit()
    sign_in_staff(client, "supervisor.baki")
    response = client.get(f"/staff/reports?start={START.strftime('%d.%m.%Y')}&end={END}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart__svg"' in page and 'role="img"' in page
    assert page.count("<rect ") >= 8 and " style=" not in page and "<script>" not in page
    assert "1 saylı Bakı DOST Mərkəzi" in page and "Sumqayıt DOST Mərkəzi" not in page
    assert re.search(r"<td>75,0%</td>", page)  # Azerbaijani decimal comma (figures follow the locale)
    fragment = client.get(f"/staff/reports?start={START}&end={END}", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="report"')


def test_report_page_bad_period_is_explained_beside_the_field(client):
    sign_in_staff(client, "agent.bak1")
    response = client.get("/staff/reports?start=2026-11-01&end=2026-10-01")
    assert response.status_code == 400 and "başlanğıc tarixindən əvvəl" in response.get_data(as_text=True)
    response = client.get("/staff/reports?start=yesterday&end=2026-10-01")
    assert response.status_code == 400 and "gg.aa.iiii" in response.get_data(as_text=True)
    assert client.get("/staff/reports").status_code == 200
