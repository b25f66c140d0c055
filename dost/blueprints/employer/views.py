"""Employer cabinet: the insurer page (read-only) and the feedback form."""

from __future__ import annotations

from flask import Blueprint, flash, g, make_response, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from dost.auth import employer_required
from dost.blueprints.common import commit, is_htmx, render, toast
from dost.extensions import db
from dost.services import feedback as feedback_service
from dost.services.authority import grant_effective_end, grants_ending_soon
from dost.timeutil import today

bp = Blueprint("employer", __name__)


class FeedbackForm(FlaskForm):
    contact = StringField(
        _l("Əlaqə (e-poçt və ya telefon)"),
        validators=[DataRequired(_l("Əlaqə məlumatını daxil edin.")), Length(max=200, message=_l(
            "Ən çox %(max)d simvol daxil edilə bilər."))],
    )
    subject = StringField(
        _l("Mövzu"),
        validators=[DataRequired(_l("Mövzunu daxil edin.")), Length(max=200, message=_l(
            "Ən çox %(max)d simvol daxil edilə bilər."))],
    )
    message = TextAreaField(
        _l("Müraciətin mətni"),
        validators=[DataRequired(_l("Mətni daxil edin.")), Length(max=5000, message=_l(
            "Ən çox %(max)d simvol daxil edilə bilər."))],
    )


@bp.get("/insurer")
@employer_required()
def insurer():
    """Sığortaedənin məlumatları: read-only insurer details, and grants about to end for the seal holder."""
    ending = grants_ending_soon(db.session, current_user.insurer_id, today()) if current_user.is_seal_holder else []
    return render("employer/insurer.html", insurer=current_user.insurer, ending=ending,
                  effective_end=grant_effective_end)


@bp.route("/feedback", methods=["GET", "POST"])
@employer_required()
def feedback():
    """Əks əlaqə: a message to the service, stored in the database."""
    form = FeedbackForm()
    if form.validate_on_submit():
        feedback_service.submit(db.session, g.actor, form.contact.data, form.subject.data, form.message.data)
        commit()
        message = str(_l("Müraciətiniz qəbul edildi. Təşəkkür edirik."))
        if is_htmx():
            response = make_response(render_template("employer/_feedback_form.html", form=FeedbackForm(formdata=None)))
            return toast(response, message)
        flash(message, "success")
        return redirect(url_for("employer.feedback"))
    return render("employer/feedback.html", "employer/_feedback_form.html", status=400 if form.errors else 200,
                  form=form)
