"""Səlahiyyətlərin verilməsi: the three-step grant wizard, the grants registry with revocation and CSV export."""

from __future__ import annotations

import csv
import io
import re
import secrets
from urllib.parse import quote

from flask import Blueprint, abort, flash, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, StringField

from dost import validation
from dost.auth import employer_required
from dost.blueprints.common import attach_error, commit, is_htmx, render, toast
from dost.extensions import db
from dost.models import CredentialKind
from dost.services import grants as grant_service
from dost.services.authority import GrantState
from dost.services.errors import DomainError, Forbidden, NotFound
from dost.timeutil import local, today

bp = Blueprint("grants", __name__, url_prefix="/grants")

STEPS = (1, 2, 3)
# Which form fields each step shows; the others travel as hidden fields so Əvvəlki keeps everything.
STEP_FIELDS = {
    1: ("service",),
    2: ("kind",),
    3: ("card_number", "mobile_prefix", "mobile_number", "fin", "validity", "start_date", "end_date"),
}
FILTER_LABELS = {
    "active": _l("Qüvvədə olanlar"),
    "expired": _l("Müddəti bitmişlər"),
    "revoked": _l("Ləğv edilmişlər"),
    "all": _l("Hamısı"),
}
STATE_LABELS = {
    GrantState.ACTIVE: _l("Qüvvədədir"),
    GrantState.NOT_STARTED: _l("Başlanğıc tarixi gözlənilir"),
    GrantState.EXPIRED: _l("Müddəti bitib"),
    GrantState.SIGNATURE_EXPIRED: _l("E-imzanın müddəti bitib"),
    GrantState.REVOKED: _l("Ləğv edilib"),
}


class GrantWizardForm(FlaskForm):
    """Every field of the three steps; each post carries all of them."""

    step = HiddenField(default="1")
    submission = HiddenField()
    service = SelectField(
        _l("Xidmətin adı"),
        choices=[SelectChoice("", _l("Səlahiyyət vermək istədiyiniz xidmətin adını seçin"))]
        + [SelectChoice(code.value, label) for code, label in grant_service.SERVICE_LABELS.items()],
        validate_choice=False,
    )
    kind = SelectField(
        _l("Səlahiyyətin tipi"),
        choices=[SelectChoice(kind.value, label) for kind, label in grant_service.KIND_LABELS.items()],
        default=CredentialKind.CARD.value,
        validate_choice=False,
    )
    card_number = StringField(_l("Kartın nömrəsi"))
    mobile_prefix = SelectField(
        _l("Operator kodu"),
        choices=[SelectChoice(code, f"+994 {code}") for code in validation.MOBILE_OPERATOR_CODES],
        default="50",
        validate_choice=False,
    )
    mobile_number = StringField(_l("Telefon nömrəsi"))
    fin = StringField(_l("FİN"))
    validity = RadioField(
        _l("Etibar edilmə müddəti"),
        choices=[SelectChoice("indefinite", _l("Müddətsiz")), SelectChoice("limited", _l("Müddətli"))],
        default="indefinite",
        validate_choice=False,
    )
    start_date = StringField(_l("Başlanğıc tarixi"))
    end_date = StringField(_l("Bitmə tarixi"))


def _step(form: GrantWizardForm) -> int:
    value = form.step.data or "1"
    return int(value) if value in ("1", "2", "3") else 1


def _wizard(form: GrantWizardForm, step: int, status: int = 200):
    form.step.data = str(step)
    if not form.submission.data or len(form.submission.data) > 64:
        form.submission.data = secrets.token_urlsafe(24)
    if form.validity.data not in ("indefinite", "limited"):
        form.validity.data = "indefinite"
    if form.mobile_prefix.data not in validation.MOBILE_OPERATOR_CODES:
        form.mobile_prefix.data = "50"
    visible = set(STEP_FIELDS[step])
    if step == 3:
        asan = form.kind.data in (CredentialKind.ASAN.value, CredentialKind.SIMA.value)
        visible -= {"card_number"} if asan else {"mobile_prefix", "mobile_number"}
    hidden = [name for names in STEP_FIELDS.values() for name in names if name not in visible]
    return render(
        "grants/index.html",
        "grants/_wizard.html",
        status=status,
        form=form,
        step=step,
        hidden=hidden,
        service_labels=grant_service.SERVICE_LABELS,
        kind_labels=grant_service.KIND_LABELS,
        today=today(),
    )


@bp.get("/")
@employer_required(seal=True)
def index():
    """Səlahiyyətlərin verilməsi, step 1: Xidmətin adı."""
    return _wizard(GrantWizardForm(formdata=None), 1)


@bp.route("/wizard", methods=["GET", "POST"])
@employer_required(seal=True)
def wizard():
    """The wizard's buttons: Növbəti >>, << Əvvəlki, Təsdiqlə (htmx swaps the step in place; plain posts too)."""
    if request.method == "GET":
        # A bookmarked or re-opened step URL starts the wizard again.
        return redirect(url_for("grants.index"))
    form = GrantWizardForm()
    if not form.validate():
        abort(400)
    step = _step(form)
    action = request.form.get("action", "")
    if action == "back":
        return _wizard(form, max(1, step - 1))
    if action == "next" and step == 1:
        try:
            grant_service.parse_service(form.service.data)
        except DomainError as error:
            attach_error(form, error)
            return _wizard(form, 1, status=400)
        return _wizard(form, 2)
    if action == "next" and step == 2:
        try:
            grant_service.parse_kind(form.kind.data)
        except DomainError as error:
            attach_error(form, error)
            return _wizard(form, 2, status=400)
        return _wizard(form, 3)
    if action == "confirm" and step == 3:
        return _confirm(form)
    return _wizard(form, step)


def _confirm(form: GrantWizardForm):
    try:
        kind = grant_service.parse_kind(form.kind.data)
        mobile = (grant_service.compose_mobile(form.mobile_prefix.data, form.mobile_number.data)
                  if kind.on_mobile else None)
        limited = form.validity.data == "limited"
        start = end = None
        if limited:
            start = grant_service.parse_date(form.start_date.data, "start_date", _l("Başlanğıc tarixini daxil edin."))
            end = grant_service.parse_date(form.end_date.data, "end_date", _l("Bitmə tarixini daxil edin."))
        grant = grant_service.create_grant(
            db.session,
            g.actor,
            service=form.service.data or "",
            kind=kind,
            fin=form.fin.data or "",
            card_number=form.card_number.data if kind == CredentialKind.CARD else None,
            mobile_number=mobile,
            indefinite=not limited,
            start_date=start,
            end_date=end,
            on=today(),
            submission=form.submission.data or None,
        )
    except Forbidden:
        db.session.rollback()
        abort(403)
    except DomainError as error:
        db.session.rollback()
        attach_error(form, error)
        back_to = {"service": 1, "kind": 2}.get(error.field or "", 3)
        return _wizard(form, back_to, status=400)
    commit()
    message = _("Səlahiyyət verildi: %(holder)s — %(service)s.", holder=grant.credential.holder_name,
                service=grant_service.SERVICE_LABELS[grant.service])
    target = url_for("grants.registry", filter="active", new=grant.id)
    flash(message, "success")
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def _filter() -> str:
    value = request.args.get("filter", grant_service.DEFAULT_FILTER)
    return value if value in grant_service.FILTERS else grant_service.DEFAULT_FILTER


def _registry_context(filter_name: str):
    rows = grant_service.list_grants(db.session, g.actor, filter_name, today())
    new = request.args.get("new", "")
    return {
        "rows": rows,
        "filter": filter_name,
        "filter_labels": FILTER_LABELS,
        "state_labels": STATE_LABELS,
        "service_labels": grant_service.SERVICE_LABELS,
        "new_id": validation.parse_id(new),
        "today": today(),
    }


@bp.get("/registry")
@employer_required(seal=True)
def registry():
    """Səlahiyyətlərin reyestri, filtered (active / expired / revoked / all)."""
    return render("grants/registry.html", "grants/_registry.html", **_registry_context(_filter()))


def _csv_cell(value: str) -> str:
    # Spreadsheet formula injection: a cell starting with = + - @ is neutralised unless it is a plain number.
    if value and value[0] in "=+-@\t\r" and not re.fullmatch(r"[+-]?\d+", value):
        return "'" + value
    return value


@bp.get("/registry.csv")
@employer_required(seal=True)
def export():
    """The current filter of the registry as CSV: UTF-8 with BOM and ';' so Excel opens Azerbaijani text as is."""
    filter_name = _filter()
    rows = grant_service.list_grants(db.session, g.actor, filter_name, today())
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([
        _("Kartın nömrəsi (RYTN)"), _("Telefon nömrəsi (Asan)"), _("Fin kod"), _("Etibar edilmə müddəti"),
        _("Başlanğıc tarixi"), _("Bitmə tarixi"), _("Səlahiyyət verilən xidmətin adı"), _("Vəziyyəti"),
        _("Səlahiyyət verilən şəxs"),
    ])
    for row in rows:
        grant = row.grant
        credential = grant.credential
        state = str(STATE_LABELS[row.state])
        if row.state == GrantState.REVOKED and grant.revoked_at:
            state = f"{state} ({local(grant.revoked_at).strftime('%d.%m.%Y')})"
        writer.writerow([_csv_cell(value) for value in (
            credential.card_number if credential.kind == CredentialKind.CARD else "",
            credential.mobile_number if credential.kind.on_mobile else "",
            credential.fin,
            str(_l("Müddətsiz") if grant.indefinite else _l("Müddətli")),
            grant.start_date.strftime("%d.%m.%Y") if grant.start_date else "",
            grant.end_date.strftime("%d.%m.%Y") if grant.end_date and not grant.indefinite else "",
            str(grant_service.SERVICE_LABELS[grant.service]),
            state,
            credential.holder_name,
        )])
    stamp = today().isoformat()
    ascii_name = f"selahiyyetler-{filter_name}-{stamp}.csv"
    utf8_name = quote(f"səlahiyyətlər-{filter_name}-{stamp}.csv")
    response = make_response("\ufeff" + buffer.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _own_grant(grant_id: int):
    try:
        return grant_service.get_grant(db.session, g.actor, grant_id)
    except NotFound:
        abort(404)


@bp.get("/<int:grant_id>/revoke")
@employer_required(seal=True)
def revoke_confirm(grant_id: int):
    """Without JavaScript, × asks here before revoking."""
    grant = _own_grant(grant_id)
    row = grant_service.row_for(grant, today())
    return render("grants/revoke.html", row=row, filter=_filter(), state_labels=STATE_LABELS,
                  service_labels=grant_service.SERVICE_LABELS)


@bp.post("/<int:grant_id>/revoke")
@employer_required(seal=True)
def revoke(grant_id: int):
    """×: revoke the grant; htmx removes the row (or redraws it when the filter still shows it)."""
    form = FlaskForm()
    if not form.validate():
        abort(400)
    filter_name = _filter()
    level = "success"
    try:
        grant = grant_service.revoke_grant(db.session, g.actor, grant_id)
    except NotFound:
        db.session.rollback()
        abort(404)
    except Forbidden:
        db.session.rollback()
        abort(403)
    except DomainError as error:
        db.session.rollback()
        grant = _own_grant(grant_id)
        message, level = str(error.message), "error"
    else:
        commit()
        message = _("Səlahiyyət ləğv edildi: %(holder)s — %(service)s.", holder=grant.credential.holder_name,
                    service=grant_service.SERVICE_LABELS[grant.service])
    if not is_htmx():
        flash(message, level)
        return redirect(url_for("grants.registry", filter=filter_name), 303)
    row = grant_service.row_for(grant, today())
    rows = grant_service.list_grants(db.session, g.actor, filter_name, today())
    response = make_response(render(
        "grants/_revoked.html",
        "grants/_revoked.html",
        row=row if row.state in grant_service.FILTERS[filter_name] else None,
        count=len(rows),
        filter=filter_name,
        filter_labels=FILTER_LABELS,
        state_labels=STATE_LABELS,
        service_labels=grant_service.SERVICE_LABELS,
        new_id=None,
        today=today(),
    )[0])
    return toast(response, message, level)
