"""Control reports: per centre or back office and period, CSV export and the weekly throughput chart."""

from __future__ import annotations

from datetime import timedelta

from flask import g, make_response, request
from flask_login import current_user
from wtforms import SelectChoice

from dost.auth import staff_required
from dost.blueprints.common import attach_error, render
from dost.blueprints.staff.forms import ReportForm, parse_date
from dost.blueprints.staff.views import bp
from dost.extensions import db
from dost.services import processing, reports
from dost.services.errors import DomainError
from dost.timeutil import today
from dost.validation import parse_id

DEFAULT_WEEKS = 12


def _build():
    """The form and the report (None with messages beside the fields when the period is wrong)."""
    form = ReportForm(formdata=request.args)
    centres = processing.covered_centres(db.session, current_user.user)
    form.centre_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(centre.id), centre.name) for centre in centres]
    if not request.args.get("start") and not request.args.get("end"):
        end = today()
        start = end - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
        form.start.data, form.end.data = start.isoformat(), end.isoformat()
    start, end = parse_date(form.start), parse_date(form.end)
    group_by = form.group_by.data if form.group_by.data in (reports.GROUP_CENTRE, reports.GROUP_BACK_OFFICE) \
        else reports.GROUP_CENTRE
    form.group_by.data = group_by
    centre_id = parse_id(form.centre_id.data)
    if form.start.errors or form.end.errors:
        return form, None
    try:
        report = reports.build(db.session, g.actor, start, end, today(), group_by=group_by, centre_id=centre_id)
    except DomainError as error:
        attach_error(form, error)
        return form, None
    return form, report


@bp.get("/reports")
@staff_required()
def reports_page():
    """Hesabatlar: received, completed, refused by ground, overdue, processing time, share on time, chart."""
    form, report = _build()
    chart = reports.throughput_chart(report.weeks) if report else None
    return render("staff/reports.html", "staff/_report.html", status=200 if report else 400, form=form,
                  report=report, chart=chart, args=request.args.to_dict())


@bp.get("/reports.csv")
@staff_required()
def reports_csv():
    """The same report as a CSV file."""
    form, report = _build()
    if report is None:
        return render("staff/reports.html", status=400, form=form, report=None, chart=None,
                      args=request.args.to_dict())
    response = make_response(reports.to_csv(report))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="dost-hesabat-{report.start.isoformat()}-{report.end.isoformat()}.csv"'
    )
    return response
