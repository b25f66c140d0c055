"""DOST staff back office: sign-in with a second factor, the work queue, an application's steps and timeline."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, current_app, flash, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dost import labels
from dost.auth import StaffPrincipal, end_session, staff_required, start_session
from dost.blueprints.common import attach_error, commit, is_htmx, local_path, redirect_to, render, toast
from dost.blueprints.staff.forms import ActionForm, QueueFilterForm, RefuseForm, SignInForm, parse_version
from dost.extensions import db, limiter
from dost.models import Application, StaffRole
from dost.services import processing, staff_auth
from dost.services.errors import Conflict, DomainError, NotFound
from dost.services.throttle import Throttled
from dost.timeutil import today, utcnow
from dost.validation import parse_id

bp = Blueprint("staff", __name__, url_prefix="/staff")

LABELS = SimpleNamespace(
    status=processing.STATUS_LABELS,
    status_icon=processing.STATUS_ICONS,
    type=processing.TYPE_LABELS,
    ground=processing.GROUND_LABELS,
    channel=processing.CHANNEL_LABELS,
    sla=processing.SLA_LABELS,
    sla_icon=processing.SLA_ICONS,
    role=processing.ROLE_LABELS,
    back_office=processing.BACK_OFFICE_LABELS,
    action=processing.ACTION_LABELS,
    steps=processing.STEPS,
    certificate_status=labels.CERTIFICATE_STATUS,
)


@bp.context_processor
def staff_context():
    return {"labels": LABELS, "StaffRole": StaffRole}


def _sign_in_limit() -> str:
    return current_app.config["SIGN_IN_RATE_LIMIT"]


def _safe_next() -> str | None:
    # Only this area's own paths: never an open redirect.
    return local_path(request.args.get("next"), prefix="/staff")


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_sign_in_limit, methods=["POST"])
def sign_in():
    """DOST staff sign-in: username, password and the code of the authenticator app."""
    if request.method == "GET" and current_user.is_authenticated and current_user.kind == "staff":
        return redirect(url_for("staff.queue"))
    form = SignInForm()
    if request.method == "GET":
        return render("staff/sign_in.html", form=form)
    status, headers = 400, {}
    if form.validate():
        try:
            user = staff_auth.sign_in(db.session, form.username.data, form.password.data, form.code.data, utcnow())
        except DomainError as error:
            # The audit of a failed attempt is stored even though the sign-in fails (its count already is).
            commit()
            attach_error(form, error)
            status = error.status_code
            if isinstance(error, Throttled):
                headers["Retry-After"] = str(error.retry_after)
        else:
            commit()
            start_session(StaffPrincipal(user))
            return redirect_to(_safe_next() or url_for("staff.queue"))
    form.password.data = ""
    form.code.data = ""
    body, status = render("staff/sign_in.html", "staff/_sign_in_form.html", status=status, form=form)
    return body, status, headers


@bp.post("/sign-out")
@staff_required()
def sign_out():
    """End the staff session."""
    staff_auth.record_sign_out(db.session, g.actor)
    commit()
    end_session()
    flash(_("Siz sistemdən çıxdınız."), "success")
    return redirect(url_for("staff.sign_in"))


# --- queue ------------------------------------------------------------------------------------------------


def _queue_context(bulk=None, bulk_error=None) -> dict:
    form = QueueFilterForm(formdata=request.args)
    form.fill_choices(processing.insurers_in_scope(db.session, g.actor))
    insurer = form.value(form.insurer_id)
    filters = processing.QueueFilters(
        status=form.value(form.status),
        application_type=form.value(form.application_type),
        sla=form.value(form.sla),
        insurer_id=int(insurer) if insurer.isdigit() else None,
        sort=form.value(form.sort),
        page=request.args.get("page", type=int) or 1,
    )
    page = processing.queue(db.session, g.actor, filters, today())
    args = {name: value for name, value in (
        ("status", filters.status), ("application_type", filters.application_type), ("sla", filters.sla),
        ("insurer_id", insurer), ("sort", filters.sort)) if value}
    return {"form": form, "page": page, "args": args, "user": current_user.user, "bulk": bulk,
            "bulk_error": bulk_error, "can_bulk": current_user.user.role in processing.STEPS["order"].roles}


@bp.get("/")
@staff_required()
def queue():
    """Növbə: the applications of the user's scope with filters, SLA badges and paging."""
    return render("staff/queue.html", "staff/_queue_results.html", **_queue_context())


@bp.post("/queue/order")
@staff_required()
def bulk_order():
    """Order the selected applications in one action, with a result per row."""
    items = []
    for raw in request.form.getlist("ids")[: processing.MAX_BULK + 1]:
        application_id, version = (parse_id(part) for part in raw.partition(":")[::2])
        if application_id is not None and version is not None:
            items.append((application_id, version))
    try:
        rows = processing.bulk_order(db.session, g.actor, items, today())
    except DomainError as error:
        db.session.rollback()
        return render("staff/queue.html", "staff/_queue_results.html", status=error.status_code,
                      **_queue_context(bulk_error=str(error.message)))
    commit()
    done = sum(1 for row in rows if row.ok)
    response, status = render("staff/queue.html", "staff/_queue_results.html", **_queue_context(bulk=rows))
    response = make_response(response, status)
    return toast(response, _("%(done)d müraciət sifariş edildi, %(failed)d müraciət üzrə xəta.", done=done,
                             failed=len(rows) - done), "success" if done == len(rows) else "error")


# --- one application ----------------------------------------------------------------------------------------


def _application_context(application: Application, **extra) -> dict:
    user = current_user.user
    refuse_form = extra.pop("refuse_form", None) or RefuseForm(formdata=None, version=str(application.version))
    return {
        "application": application,
        "user": user,
        "actions": processing.allowed_actions(user, application),
        "sla": processing.sla_of(db.session, application, today()),
        "centre": processing.centre_of(db.session, application),
        "timeline": processing.timeline(db.session, application),
        "action_form": ActionForm(formdata=None, version=str(application.version)),
        "refuse_form": refuse_form,
        "error": None,
        **extra,
    }


def _application_page(application_id: int, status: int = 200, **extra):
    try:
        application = processing.get_visible(db.session, g.actor, application_id)
    except NotFound:
        abort(404)
    return render("staff/application.html", "staff/_application.html", status=status,
                  **_application_context(application, **extra))


@bp.get("/applications/<int:application_id>")
@staff_required()
def application(application_id: int):
    """Ətraflı baxış: the application, the steps the user may take, its status history and audit timeline."""
    return _application_page(application_id)


def _after_action(application_id: int, message: str, level: str = "success"):
    if is_htmx():
        body, status = _application_page(application_id)
        return toast(make_response(body, status), message, level)
    flash(message, level)
    return redirect(url_for("staff.application", application_id=application_id))


@bp.post("/applications/<int:application_id>/<any(verify, order, ready, deliver):action>")
@staff_required()
def act(application_id: int, action: str):
    """One step of the passport on the version of the application the user saw."""
    version = parse_version(ActionForm().version.data)
    level = "success"
    try:
        if action == "verify":
            outcome = processing.verify(db.session, g.actor, application_id, version, today())
            results = [str(processing.EMPLOYMENT_RESULTS[outcome.employment]),
                       str(processing.CERTIFICATE_RESULTS[outcome.certificate])]
            if outcome.passed:
                message = _("Yoxlama uğurla başa çatdı: müraciət «Yoxlanılıb» statusundadır.") + " " + " ".join(results)
            else:
                level = "warning"
                message = _("Yoxlama keçmədi; müraciətin statusu dəyişmədi. Lazım olduqda imtina edin.") + " " + \
                    " ".join(results)
        elif action == "order":
            processing.order(db.session, g.actor, application_id, version, today())
            message = _("Şəhadətnamə sifariş edildi.")
        elif action == "ready":
            processing.mark_ready(db.session, g.actor, application_id, version)
            message = _("Şəhadətnamə hazır kimi qeyd edildi; sığortaedənə bildiriş göndərildi.")
        else:
            processing.deliver(db.session, g.actor, application_id, version)
            message = _("Şəhadətnamə təhvil verildi; əvvəlki şəhadətnamə əvəz olundu.")
    except NotFound:
        db.session.rollback()
        abort(404)
    except Conflict as error:
        return _conflict(application_id, version, action, error)
    except DomainError as error:
        db.session.rollback()
        return _application_page(application_id, status=error.status_code, error=str(error.message))
    commit()
    return _after_action(application_id, message, level)


def _conflict(application_id: int, version: int | None, action: str, error: Conflict):
    """Someone changed the application first; when that was this user's own twin of this step, show its result."""
    db.session.rollback()
    if processing.taken_by_actor(db.session, g.actor, application_id, version, action):
        return _after_action(application_id, _("Bu addım artıq atılıb; müraciətin cari vəziyyəti göstərilir."), "info")
    return _application_page(application_id, status=error.status_code, error=str(error.message))


@bp.post("/applications/<int:application_id>/refuse")
@staff_required()
def refuse(application_id: int):
    """İmtina: one of the passport's grounds and a comment the employer sees."""
    form = RefuseForm()
    try:
        processing.refuse(db.session, g.actor, application_id, parse_version(form.version.data), form.ground.data,
                          form.comment.data)
    except NotFound:
        db.session.rollback()
        abort(404)
    except Conflict as error:
        return _conflict(application_id, parse_version(form.version.data), "refuse", error)
    except DomainError as error:
        db.session.rollback()
        if error.field in ("ground", "comment"):
            attach_error(form, error)
            return _application_page(application_id, status=400, refuse_form=form)
        return _application_page(application_id, status=error.status_code, error=str(error.message))
    commit()
    return _after_action(application_id, _("Müraciət üzrə imtina edildi; sığortaedənə səbəbi ilə bildiriş göndərildi."))


from dost.blueprints.staff import admin_views, report_views, walk_in_views  # noqa: E402,F401  (routes join bp)
