"""Walk-in applications: an agent registers an application for a person at the centre and prints the notice."""

from __future__ import annotations

from flask import abort, flash, g, make_response, request, url_for
from flask_babel import gettext as _

from dost.auth import staff_required
from dost.blueprints.common import attach_error, commit, public_base_url, redirect_to, render
from dost.blueprints.staff.forms import REASON_LABELS, REPRESENTATIVE, WalkInForm
from dost.blueprints.staff.views import bp
from dost.extensions import db
from dost.models import StaffRole
from dost.services import applications, processing
from dost.services.errors import DomainError, NotFound
from dost.timeutil import today


def _page(form: WalkInForm, status: int = 200, lookup=None):
    return render("staff/walk_in.html", "staff/_walk_in_form.html", status=status, form=form, lookup=lookup,
                  reason_labels=REASON_LABELS)


@bp.route("/walk-in", methods=["GET", "POST"])
@staff_required(StaffRole.AGENT)
def walk_in():
    """Müraciətin qəbulu: the employer wizard's fields and rules at the agent's desk; Axtar, then Qeydə al."""
    if request.method == "GET":
        return _page(WalkInForm(formdata=None))
    form = WalkInForm()
    identity = applications.IdentityInput(form.document_type.data or "", form.fin.data or "", form.ssn.data or "")
    representative = None
    if form.mode.data == REPRESENTATIVE:
        representative = applications.Representative(form.representative_name.data or "",
                                                     form.representative_fin.data or "",
                                                     form.representative_document.data or "")
    try:
        if request.form.get("op") == "lookup":
            lookup = processing.look_up_walk_in(db.session, g.actor, identity, form.voen.data, today())
            db.session.rollback()
            return _page(form, lookup=lookup)
        application = processing.register_walk_in(db.session, g.actor, identity, form.reason.data or None,
                                                  form.voen.data, representative, today(), public_base_url())
    except DomainError as error:
        db.session.rollback()
        attach_error(form, error)
        return _page(form, status=400)
    commit()
    flash(_("Müraciət qeydə alındı: № %(number)s. Bildirişi çap edib müraciət edən şəxsə təqdim edin.",
            number=application.registration_number), "success")
    return redirect_to(url_for("staff.application", application_id=application.id))


@bp.get("/applications/<int:application_id>/notice.pdf")
@staff_required()
def notice(application_id: int):
    """The registration notice (Bildiriş) to print for the person at the centre."""
    try:
        pdf = processing.notice_pdf(db.session, g.actor, application_id)
    except NotFound:
        abort(404)
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="bildiris-{application_id}.pdf"'
    return response
