"""SSŞ applications for employers: the three-step wizard, signing, REYESTR with its operations, notice download."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from dost import labels
from dost.auth import employer_required
from dost.blueprints.common import attach_error, commit, is_htmx, public_base_url, reads_only, render
from dost.extensions import db
from dost.models import (
    ApplicationReason,
    ApplicationStatus,
    CertificateStatus,
    DocumentType,
    ServiceCode,
)
from dost.services import applications as service
from dost.services import audit, signin, verification
from dost.services.errors import DomainError
from dost.timeutil import today, utcnow
from dost.validation import parse_id

bp = Blueprint("applications", __name__, url_prefix="/ssh")

STEPS = ("dsmf", "identity", "reason", "sign")
REASON_LABELS = labels.APPLICATION_REASON
TYPE_LABELS = labels.APPLICATION_TYPE
STATUS_LABELS = labels.APPLICATION_STATUS
CERTIFICATE_STATUS_LABELS = labels.CERTIFICATE_STATUS
# The SSŞ statusu column shows the certificate an application replaces: in force until delivery, replaced after.
# Only those two are offered in Axtarış (an ordered or cancelled one is the new certificate, never shown there).
SEARCHABLE_CERTIFICATE_STATUSES = (CertificateStatus.ACTIVE, CertificateStatus.REPLACED)
DOCUMENT_LABELS = labels.DOCUMENT_TYPE


class WizardForm(FlaskForm):
    """All wizard fields travel with every step, so Əvvəlki keeps everything and no JS is needed."""

    step = HiddenField(default="dsmf")
    application_id = HiddenField()
    submission_key = HiddenField()
    document_type = SelectField(_l("Sənədin tipi"),
                                choices=[SelectChoice(t.value, DOCUMENT_LABELS[t]) for t in DocumentType],
                                validate_choice=False)
    fin = StringField(_l("FİN"))
    ssn = StringField(_l("SSN"))
    reason = RadioField(_l("Müraciətin səbəbi"),
                        choices=[SelectChoice(r.value, REASON_LABELS[r]) for r in ApplicationReason],
                        validate_choice=False)
    pin = PasswordField(_l("PIN kod"))


def _identity(form: WizardForm) -> service.IdentityInput:
    return service.IdentityInput(form.document_type.data or "", form.fin.data or "", form.ssn.data or "")


def _wizard(form: WizardForm, lookup: service.PersonLookup | None = None, status: int = 200, **extra):
    form.step.data = form.step.data if form.step.data in STEPS else "dsmf"
    context = {
        "form": form,
        "lookup": lookup,
        "insurer": current_user.insurer,
        "reason_labels": REASON_LABELS,
        "type_labels": TYPE_LABELS,
        "reason_types": service.REASON_TYPES,
        "credential": current_user.credential,
        "steps": STEPS[:3],
        **extra,
    }
    return render("applications/wizard.html", "applications/_wizard.html", status=status, **context)


@bp.get("/new")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def new():
    """QEYDİYYAT: a new application, starting at 'DSMF məlumatları'."""
    form = WizardForm(formdata=None)
    form.submission_key.data = secrets.token_urlsafe(32)
    form.step.data = request.args.get("step") if request.args.get("step") in ("dsmf", "identity") else "dsmf"
    return _wizard(form)


@bp.get("/<int:application_id>/edit")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def edit(application_id: int):
    """Resume a draft from the registry at 'Vəsiqə məlumatları'."""
    application = service.get_for_insurer(db.session, g.actor, application_id)
    if application.status != ApplicationStatus.DRAFT:
        flash(_("Təsdiqlənmiş müraciəti dəyişmək olmaz."), "error")
        return redirect(url_for("applications.detail", application_id=application_id))
    form = _form_from_draft(application, "identity")
    lookup = _try_lookup(form, show_errors=True)
    return _wizard(form, lookup)


def _form_from_draft(application, step: str) -> WizardForm:
    """The wizard filled from a saved draft, at the given step."""
    form = WizardForm(formdata=None)
    form.step.data = step
    form.application_id.data = str(application.id)
    form.submission_key.data = secrets.token_urlsafe(32)
    form.document_type.data = application.document_type.value
    form.fin.data = application.fin
    form.ssn.data = application.ssn
    form.reason.data = application.reason.value if application.reason else None
    return form


def _try_lookup(form: WizardForm, show_errors: bool) -> service.PersonLookup | None:
    try:
        # The draft being edited is not "another open application" of its person.
        return service.validate_person(db.session, g.actor.insurer_id, _identity(form), today(), _draft_id(form))
    except DomainError as error:
        if show_errors:
            attach_error(form, error)
        return None


def _draft_id(form: WizardForm) -> int | None:
    return parse_id(form.application_id.data)


@bp.post("/wizard")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def wizard():
    """One endpoint for the wizard's buttons: AXTAR, NÖVBƏTİ, Əvvəlki, Yadda saxla, Təsdiqlə."""
    form = WizardForm()
    if not form.validate():
        abort(400)
    action = request.form.get("action", "")
    step = form.step.data
    if action == "to_identity":
        form.step.data = "identity"
        return _wizard(form)
    if action == "prev":
        form.step.data = {"sign": "reason", "reason": "identity", "identity": "dsmf"}.get(step, "dsmf")
        return _wizard(form, _try_lookup(form, show_errors=False) if form.step.data != "dsmf" else None)
    if action in ("search", "next"):
        lookup = _try_lookup(form, show_errors=True)
        if lookup is not None and action == "next":
            form.step.data = "reason"
        return _wizard(form, lookup, status=200 if lookup else 400)
    if action == "save":
        return _save(form)
    if action == "confirm":
        return _to_signing(form)
    if action == "sign":
        return _sign(form)
    abort(400)


def _save(form: WizardForm):
    try:
        service.save_draft(db.session, g.actor, _identity(form), form.reason.data or None, today(), _draft_id(form))
    except DomainError as error:
        db.session.rollback()
        attach_error(form, error)
        if any(getattr(form, name).errors for name in ("fin", "ssn", "document_type")):
            form.step.data = "identity"
        return _wizard(form, _try_lookup(form, show_errors=False), status=400)
    commit()
    message = _("Müraciət qaralama kimi reyestrdə saxlanıldı.")
    return _redirect_with_toast(url_for("applications.registry"), message)


def _to_signing(form: WizardForm):
    """Təsdiqlə: check everything, then ask the signer's provider (PIN or Asan İmza) — nothing is written yet."""
    lookup = _try_lookup(form, show_errors=True)
    try:
        service.parse_reason(form.reason.data)
    except DomainError as error:
        attach_error(form, error)
    if lookup is None or form.reason.errors:
        form.step.data = "reason" if lookup is not None else "identity"
        return _wizard(form, lookup, status=400)
    form.step.data = "sign"
    return _wizard(form, lookup)


def _confirm_from_form(form: WizardForm) -> service.ConfirmResult:
    return service.confirm(db.session, g.actor, _identity(form), form.reason.data or None, today(),
                           form.submission_key.data or secrets.token_urlsafe(32), public_base_url(),
                           draft_id=_draft_id(form))


def _sign(form: WizardForm):
    """The signature: card PIN checked now, or an Asan İmza request the page then waits for."""
    credential = current_user.credential
    lookup = _try_lookup(form, show_errors=False)
    if credential.kind.on_mobile:
        challenge = signin.start_signing(db.session, credential)
        commit()
        session["pending_signature"] = {
            "token": challenge.token,
            "code": challenge.verification_code,
            "form": {name: getattr(form, name).data for name in
                     ("application_id", "submission_key", "document_type", "fin", "ssn", "reason")},
        }
        return render("applications/sign_wait.html", "applications/_sign_status.html", challenge=challenge,
                      state="pending", timeout=current_app.config["ASAN_TIMEOUT_SECONDS"])
    try:
        signin.check_signer_pin(db.session, credential, form.pin.data or "", utcnow())
        result = _confirm_from_form(form)
    except DomainError as error:
        db.session.rollback()
        attach_error(form, error)
        form.pin.data = ""
        if error.field in ("fin", "ssn", "document_type"):
            form.step.data = "identity"
        return _wizard(form, lookup, status=error.status_code if error.status_code != 404 else 404)
    commit()
    return _confirmed(result)


def _confirmed(result: service.ConfirmResult):
    application = result.application
    message = (_("Bu müraciət artıq təsdiqlənib: № %(number)s.", number=application.registration_number)
               if result.already_confirmed else
               _("Müraciət təsdiqləndi: № %(number)s. Bildirişi yükləyə bilərsiniz.",
                 number=application.registration_number))
    return _redirect_with_toast(url_for("applications.detail", application_id=application.id), message)


def _redirect_with_toast(target: str, message: str):
    """Go to another page with the message flashed there. htmx gets HX-Redirect (a full page load): HX-Location
    would fetch the target as an htmx request, and REYESTR answers those with its fragment only."""
    flash(message, "success")
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


@bp.get("/sign/<token>/status")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def sign_status(token: str):
    """Asan İmza signing: poll until the phone confirms, then confirm the application in one transaction."""
    pending = session.get("pending_signature") or {}
    if pending.get("token") != token:
        # A repeat of a signing that already ended lands on its application.
        signed = (session.get("signed_token") or {}).get(token)
        if signed is None:
            abort(404)
        return _confirmed(service.ConfirmResult(service.get_for_insurer(db.session, g.actor, signed), True))
    state, credential_id = signin.poll_signing(db.session, token, utcnow(), current_app.config["ASAN_TIMEOUT_SECONDS"])
    form = WizardForm(formdata=None, data=pending["form"])
    if state == "confirmed" and credential_id == current_user.credential_id:
        try:
            result = _confirm_from_form(form)
        except DomainError as error:
            db.session.rollback()
            session.pop("pending_signature", None)
            return render("applications/sign_wait.html", "applications/_sign_status.html", challenge=None,
                          state="refused", message=str(error.message), timeout=0)
        commit()
        return _signed(token, result)
    commit()
    if state != "pending":
        # A twin poll that lost the phone's confirmation to this browser's other request: that one confirmed it.
        done = service.confirmed_before(db.session, g.actor, form.submission_key.data or "", _draft_id(form))
        if done is not None:
            return _signed(token, done)
        session.pop("pending_signature", None)
    return render("applications/sign_wait.html", "applications/_sign_status.html",
                  challenge={"token": token, "verification_code": pending.get("code", "")}, state=state,
                  timeout=current_app.config["ASAN_TIMEOUT_SECONDS"])


def _signed(token: str, result: service.ConfirmResult):
    session.pop("pending_signature", None)
    session["signed_token"] = {token: result.application.id}
    return _confirmed(result)


@bp.get("/<int:application_id>/sign")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def sign_draft(application_id: int):
    """Təsdiqlə from the registry: the signing step for a saved draft."""
    application = service.get_for_insurer(db.session, g.actor, application_id)
    if application.status != ApplicationStatus.DRAFT:
        flash(_("Bu müraciət artıq təsdiqlənib."), "info")
        return redirect(url_for("applications.detail", application_id=application_id))
    form = _form_from_draft(application, "sign")
    if application.reason is None:
        form.step.data = "reason"
        form.reason.errors = [_("Müraciətin səbəbini seçin.")]
        return _wizard(form, _try_lookup(form, show_errors=False), status=400)
    return _wizard(form, _try_lookup(form, show_errors=True))


def _filters() -> service.RegistryFilters:
    args = request.args

    def text(name: str, limit: int = 100) -> str:
        return (args.get(name) or "").strip()[:limit]

    def day(name: str) -> date | None:
        value = text(name, 10)
        for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
            try:
                return datetime.strptime(value, pattern).date()
            except ValueError:
                continue
        return None

    return service.RegistryFilters(
        application_type=text("application_type"), fin=text("fin", 7), surname=text("surname"), name=text("name"),
        patronymic=text("patronymic"), ssn=text("ssn", 13), ssn_date=day("ssn_date"),
        application_date=day("application_date"), certificate_status=text("certificate_status"),
        status=text("status"),
    )


def _registry_context():
    filters = _filters()
    page_number = request.args.get("page", "1")
    page = service.registry_page(db.session, g.actor, filters,
                                 parse_id(page_number) or 1,
                                 current_app.config["REGISTRY_PAGE_SIZE"])
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    selected = request.args.get("selected", "")
    return {
        "filters": filters,
        "page": page,
        "query_args": args,
        "selected": parse_id(selected),
        # Translated once per request rather than once per row.
        "type_labels": labels.resolved(TYPE_LABELS),
        "status_labels": labels.resolved(STATUS_LABELS),
        "certificate_status_labels": labels.resolved(CERTIFICATE_STATUS_LABELS),
        "certificate_status_choices": SEARCHABLE_CERTIFICATE_STATUSES,
        "allowed": service.allowed_operations,
        "show_search": request.args.get("search") == "1" or filters.active(),
    }


def _check_counts(notice_ids: list[int]) -> dict[int, int]:
    """How many times each notice was checked by verifiers."""
    return verification.checks_count(db.session, notice_ids) if notice_ids else {}


@bp.get("/")
@reads_only
@employer_required(ServiceCode.SSN_CERTIFICATE)
def registry():
    """REYESTR: the insurer's applications, searchable by every column, paged."""
    return render("applications/registry.html", "applications/_registry_results.html", **_registry_context())


@bp.get("/operations")
@reads_only
@employer_required(ServiceCode.SSN_CERTIFICATE)
def operations():
    """The ƏMƏLİYYATLAR bar for the selected row (operations that do not apply are disabled)."""
    selected = parse_id(request.args.get("selected"))
    application = service.get_for_insurer(db.session, g.actor, selected) if selected is not None else None
    return render("applications/_operations.html", "applications/_operations.html", application=application,
                  allowed=service.allowed_operations(application) if application else set())


@bp.post("/operations")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def run_operation():
    """Run the chosen operation on the selected row; the server refuses what does not apply to it."""
    form = FlaskForm()
    if not form.validate():
        abort(400)
    operation = request.form.get("operation", "")
    if operation == "search":
        return redirect(url_for("applications.registry", search="1"))
    selected = parse_id(request.form.get("selected"))
    if selected is None:
        flash(_("Əvvəlcə reyestrdən müraciəti seçin."), "error")
        return redirect(url_for("applications.registry"))
    application = service.get_for_insurer(db.session, g.actor, selected)
    if operation not in service.allowed_operations(application):
        flash(_("Bu əməliyyat seçilmiş müraciət üçün mümkün deyil."), "error")
        return redirect(url_for("applications.registry", selected=application.id))
    targets = {
        "details": url_for("applications.detail", application_id=application.id),
        "confirm": url_for("applications.sign_draft", application_id=application.id),
        "download": url_for("applications.notice", application_id=application.id),
        "delete": url_for("applications.delete", application_id=application.id),
        "edit": url_for("applications.edit", application_id=application.id),
    }
    return redirect(targets[operation])


@bp.get("/<int:application_id>")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def detail(application_id: int):
    """Ətraflı baxış: everything entered, the signature and the status timeline."""
    application = service.get_for_insurer(db.session, g.actor, application_id)
    person = application.person
    events = audit.events_for(db.session, "application", application.id)
    counts = _check_counts([application.notice.id] if application.notice else [])
    return render("applications/detail.html", application=application, person=person, events=events,
                  type_labels=TYPE_LABELS, status_labels=STATUS_LABELS, reason_labels=REASON_LABELS,
                  document_labels=DOCUMENT_LABELS, certificate_status_labels=CERTIFICATE_STATUS_LABELS,
                  allowed=service.allowed_operations(application),
                  checks=counts.get(application.notice.id, 0) if application.notice else 0)


@bp.get("/<int:application_id>/notice.pdf")
@reads_only
@employer_required(ServiceCode.SSN_CERTIFICATE)
def notice(application_id: int):
    """Bildirişi yüklə: the issued PDF, byte-identical on every download."""
    # A browser that already has this notice gets 304 without the bytes being read.
    with_bytes = not request.if_none_match
    try:
        issued = service.notice_for_download(db.session, g.actor, application_id, with_bytes=with_bytes)
    except DomainError as error:
        if error.status_code == 404:
            raise
        flash(str(error.message), "error")
        return redirect(url_for("applications.registry", selected=application_id))
    if issued.pdf_sha256 in request.if_none_match:
        response = make_response("", 304)
        response.set_etag(issued.pdf_sha256)
        return response
    if issued.pdf is None:
        issued = service.notice_for_download(db.session, g.actor, application_id)
    response = make_response(issued.pdf)
    response.headers["Content-Type"] = "application/pdf"
    ascii_name = f"bildiris-{issued.number}.pdf"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(f'bildiriş-{issued.number}.pdf')}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.set_etag(issued.pdf_sha256)
    return response


@bp.route("/<int:application_id>/delete", methods=["GET", "POST"])
@employer_required(ServiceCode.SSN_CERTIFICATE)
def delete(application_id: int):
    """Qaralamadan sil: ask first, then delete the draft."""
    application = service.get_for_insurer(db.session, g.actor, application_id)
    if request.method == "GET":
        if application.status != ApplicationStatus.DRAFT:
            flash(_("Yalnız qaralamanı silmək olar; bu müraciət artıq təsdiqlənib."), "error")
            return redirect(url_for("applications.registry", selected=application_id))
        return render("applications/delete.html", application=application)
    form = FlaskForm()
    if not form.validate():
        abort(400)
    try:
        service.delete_draft(db.session, g.actor, application_id)
    except DomainError as error:
        db.session.rollback()
        if error.status_code == 404:
            raise
        flash(str(error.message), "error")
        return redirect(url_for("applications.registry", selected=application_id))
    commit()
    return _redirect_with_toast(url_for("applications.registry"), _("Qaralama silindi."))
