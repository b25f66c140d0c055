"""Control reports (seed 003, 3.5.2: completeness and speed of answers) per centre or back office and period.

Definitions, shown on the report page as well:
- received: applications registered (confirmed) in the period;
- completed: certificates handed over in the period; refused: refusals in the period, by ground;
- answered = completed + refused; processing time (median, 90th percentile) is counted over the answered
  ones in working days from registration to the answer; on time = answered no later than the deadline;
- overdue: applications whose deadline fell in the period (and has passed) and which were not answered by it.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from dost import i18n
from dost.models import Application, ApplicationStatus, Centre, Insurer, RefusalGround, ServiceCode
from dost.services import processing
from dost.services.actors import Actor
from dost.services.deadlines import Calendar
from dost.services.errors import DomainError
from dost.timeutil import BAKU, local

GROUP_CENTRE = "centre"
GROUP_BACK_OFFICE = "back_office"
MAX_DAYS = 366 * 2


@dataclass
class Stats:
    """The figures of one row of the report."""

    key: str
    label: str
    received: int = 0
    completed: int = 0
    refused: dict[RefusalGround, int] = field(default_factory=lambda: dict.fromkeys(RefusalGround, 0))
    overdue: int = 0
    durations: list[int] = field(default_factory=list)
    on_time: int = 0

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    @property
    def answered(self) -> int:
        return self.completed + self.refused_total

    @property
    def median(self) -> float | None:
        return statistics.median(self.durations) if self.durations else None

    @property
    def p90(self) -> int | None:
        """90th percentile by the nearest-rank method (an observed value, never interpolated)."""
        if not self.durations:
            return None
        ordered = sorted(self.durations)
        return ordered[math.ceil(0.9 * len(ordered)) - 1]

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.answered if self.answered else None


@dataclass
class Week:
    start: date
    received: int = 0
    answered: int = 0


@dataclass
class Report:
    start: date
    end: date
    group_by: str
    rows: list[Stats]
    total: Stats
    weeks: list[Week]


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time.min, tzinfo=BAKU), datetime.combine(end + timedelta(days=1), time.min,
                                                                              tzinfo=BAKU))


def check_period(start: date | None, end: date | None) -> tuple[date, date]:
    """Both dates given, in order, and not more than two years apart."""
    if start is None:
        raise DomainError("required", _l("Dövrün başlanğıc tarixini daxil edin."), "start")
    if end is None:
        raise DomainError("required", _l("Dövrün son tarixini daxil edin."), "end")
    if end < start:
        raise DomainError("order", _l("Son tarix başlanğıc tarixindən əvvəl ola bilməz."), "end")
    if (end - start).days > MAX_DAYS:
        raise DomainError("too_long", _l("Dövr iki ildən uzun ola bilməz."), "end")
    return start, end


def build(session: Session, actor: Actor, start: date | None, end: date | None, on: date,
          group_by: str = GROUP_CENTRE, centre_id: int | None = None) -> Report:
    """The report of the actor's scope for a period, one row per centre (or back office) and a total."""
    start, end = check_period(start, end)
    user = processing.staff_user(session, actor)
    centres = {centre.id: centre for centre in processing.covered_centres(session, user)}
    all_centres = {centre.code: centre for centre in session.scalars(select(Centre))}
    if centre_id is not None and centre_id not in centres:
        raise DomainError("centre", _l("Bu mərkəz sizin səlahiyyətinizə daxil deyil."), "centre_id")
    period_start, period_end = _bounds(start, end)
    query = (
        select(Application)
        .options(joinedload(Application.insurer).joinedload(Insurer.fund_office))
        .where(
            processing.report_condition(session, user),
            Application.submitted_at.is_not(None),
            Application.submitted_at < period_end,
            or_(Application.completed_at.is_(None), Application.completed_at >= period_start),
        )
    )
    if centre_id is not None:
        query = query.where(processing.centre_condition([centres[centre_id]]))
    calendar = Calendar.load(session)
    rows: dict[str, Stats] = {}
    total = Stats("total", str(_l("Cəmi")))
    first_monday = start - timedelta(days=start.weekday())
    last_monday = end - timedelta(days=end.weekday())
    week_rows = {first_monday + timedelta(weeks=n): Week(first_monday + timedelta(weeks=n))
                 for n in range((last_monday - first_monday).days // 7 + 1)}

    def row_for(application: Application) -> Stats:
        if group_by == GROUP_BACK_OFFICE:
            office = processing.SERVICE_BACK_OFFICE[ServiceCode.SSN_CERTIFICATE]
            key, label = office.value, processing.BACK_OFFICE_LABELS[office]
        else:
            if application.centre_id is not None:
                centre = application.centre
            else:
                code = processing.routed_centre_code(application.insurer.fund_office.code) \
                    if application.insurer else processing.DEFAULT_ONLINE_CENTRE
                centre = all_centres.get(code)
            key, label = (centre.code, centre.name) if centre else ("-", str(_l("Mərkəz müəyyən edilməyib")))
        return rows.setdefault(key, Stats(key, label))

    for application in session.scalars(query).unique():
        row = row_for(application)
        submitted = local(application.submitted_at).date()
        answered_on = local(application.completed_at).date() if application.completed_at else None
        if start <= submitted <= end:
            for stats in (row, total):
                stats.received += 1
            week_rows[submitted - timedelta(days=submitted.weekday())].received += 1
        if answered_on is not None and start <= answered_on <= end and application.status in (
                ApplicationStatus.DELIVERED, ApplicationStatus.REFUSED):
            duration = calendar.working_days_between(submitted, answered_on)
            in_time = application.deadline is None or answered_on <= application.deadline
            for stats in (row, total):
                if application.status == ApplicationStatus.DELIVERED:
                    stats.completed += 1
                elif application.refusal_ground is not None:
                    stats.refused[application.refusal_ground] += 1
                stats.durations.append(duration)
                stats.on_time += int(in_time)
            week_rows[answered_on - timedelta(days=answered_on.weekday())].answered += 1
        deadline = application.deadline
        if deadline is not None and start <= deadline <= end and deadline < on and (
                answered_on is None or answered_on > deadline):
            for stats in (row, total):
                stats.overdue += 1
    ordered_rows = sorted(rows.values(), key=lambda stats: stats.key)
    return Report(start, end, group_by, ordered_rows, total, [week_rows[monday] for monday in sorted(week_rows)])


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells that start with these as formulas.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def to_csv(report: Report) -> str:
    """The report as CSV (UTF-8 with BOM so spreadsheet programs read Azerbaijani letters)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    grounds = list(RefusalGround)
    writer.writerow([
        str(_l("Bölmə")), str(_l("Daxil olub")), str(_l("İcra olunub")),
        *[str(_l("İmtina: %(ground)s", ground=processing.GROUND_LABELS[g])) for g in grounds],
        str(_l("Vaxtı keçib")), str(_l("Median (iş günü)")), str(_l("90-cı persentil (iş günü)")),
        str(_l("Vaxtında cavablandırılıb (%)")),
    ])
    for stats in [*report.rows, report.total]:
        share = stats.on_time_share
        writer.writerow([
            _cell(stats.label), stats.received, stats.completed, *[stats.refused[g] for g in grounds], stats.overdue,
            _number(stats.median), "" if stats.p90 is None else stats.p90,
            "" if share is None else f"{share * 100:.1f}",
        ])
    return "\ufeff" + buffer.getvalue()


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    kind: str


@dataclass
class Chart:
    """Geometry of the weekly throughput chart, drawn by a template as SVG."""

    width: int
    height: int
    left: int
    top: int
    plot_height: int
    bars: list[Bar]
    labels: list[tuple[float, i18n.DayMonth]]
    ticks: list[tuple[float, int]]


def throughput_chart(weeks: list[Week], width: int = 760, height: int = 260) -> Chart:
    """Two bars per week (received, answered) on a common scale."""
    left, top, bottom, right = 44, 16, 44, 12
    plot_height = height - top - bottom
    plot_width = width - left - right
    peak = max([1] + [max(week.received, week.answered) for week in weeks])
    slot = plot_width / max(1, len(weeks))
    bar_width = max(2.0, slot * 0.36)
    bars: list[Bar] = []
    labels: list[tuple[float, i18n.DayMonth]] = []
    every = max(1, math.ceil(len(weeks) / 12))
    for index, week in enumerate(weeks):
        x = left + index * slot + slot * 0.12
        for offset, (kind, value) in enumerate((("received", week.received), ("answered", week.answered))):
            bar_height = plot_height * value / peak
            bars.append(Bar(round(x + offset * bar_width, 1), round(top + plot_height - bar_height, 1),
                            round(bar_width, 1), round(bar_height, 1), value, kind))
        if index % every == 0:
            labels.append((round(left + index * slot + slot / 2, 1), i18n.DayMonth(week.start)))
    ticks = sorted({0, math.ceil(peak / 2), peak})
    tick_rows = [(round(top + plot_height - plot_height * tick / peak, 1), tick) for tick in ticks]
    return Chart(width, height, left, top, plot_height, bars, labels, tick_rows)
