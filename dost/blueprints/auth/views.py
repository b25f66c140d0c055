"""Employer sign-in at the national login (the relying party's redirect and callback), insurer choice, sign-out."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from dost import national_login
from dost.auth import EmployerPrincipal, end_session, start_session
from dost.blueprints.common import commit, public_base_url, redirect_to, render
from dost.extensions import db, limiter
from dost.i18n import format_day
from dost.models import Credential
from dost.services import signin
from dost.services.authority import access_for, accesses_for, grant_effective_end, grant_ends_soon
from dost.services.errors import DomainError
from dost.services.national_identity import identity_from_claims
from dost.timeutil import today
from dost.validation import parse_id

bp = Blueprint("auth", __name__)


def _sign_in_limit() -> str:
    return current_app.config["SIGN_IN_RATE_LIMIT"]


def _landing():
    if current_user.is_authenticated:
        if current_user.kind == "staff":
            return redirect(url_for("staff.queue")) if "staff.queue" in current_app.view_functions else None
        return redirect(url_for("employer.insurer"))
    return None


@bp.get("/")
def index():
    """Start page: the signed-in user's home, or the sign-in choice."""
    return _landing() or redirect(url_for("auth.sign_in"))


@bp.get("/sign-in")
def sign_in():
    """Sign-in: the way to the national login, where the e-signature (card, Asan İmza, SİMA) is checked."""
    return render("auth/sign_in.html")


# What a person can do after each way the national login can fail (dost.national_login.REASONS).
NATIONAL_FAILURES = {
    "access_denied": (403, _l("Giriş milli giriş sistemində dayandırıldı. Xidmətə daxil olmaq üçün yenidən cəhd "
                              "edin.")),
    "unavailable": (503, _l("Milli giriş sistemi hazırda cavab vermir. Bir neçə dəqiqədən sonra yenidən cəhd "
                            "edin.")),
    "rejected": (400, _l("Milli giriş sistemindən gələn cavab yoxlamadan keçmədi (girişin müddəti bitmiş və ya "
                         "səhifə təkrar açılmış ola bilər). Yenidən daxil olun.")),
    "error": (400, _l("Milli giriş sistemi girişi tamamlamadı. Yenidən cəhd edin; xəta təkrarlanarsa, DOST "
                      "mərkəzinə müraciət edin.")),
}


def _redirect_uri() -> str:
    return current_app.config["OIDC_REDIRECT_URI"] or public_base_url() + url_for("auth.national_callback")


@bp.get("/sign-in/national")
@limiter.limit(_sign_in_limit)
def national_sign_in():
    """Go to the national login (e-İmza card, Asan İmza or SİMA there), which sends the person back to the
    callback."""
    try:
        return national_login.authorize_redirect(_redirect_uri(), str(get_locale()))
    except national_login.NationalLoginError as error:
        return _national_failure(error.reason, error.detail)


@bp.get("/sign-in/callback")
@limiter.limit(_sign_in_limit)
def national_callback():
    """The national login's answer: check it, map its claims to a credential, and sign in to its insurer."""
    try:
        claims, id_token = national_login.finish()
    except national_login.NationalLoginError as error:
        return _national_failure(error.reason, error.detail)
    try:
        identity = identity_from_claims(claims, current_app.config["OIDC_CLAIMS"],
                                        current_app.config["OIDC_CERTIFICATE_KINDS"])
        result = signin.sign_in_with_identity(db.session, identity, today())
    except DomainError as error:
        db.session.rollback()
        return _national_failure(error.code, str(error.message), status=error.status_code, message=error.message,
                                 fin=claims.get("fin") if isinstance(claims.get("fin"), str) else None)
    response = _finish(result, f"national:{identity.kind.value}")
    # Kept for ÇIXIŞ: the provider's end-session endpoint takes it as a hint of whose session to end.
    session["id_token"] = id_token if id_token and len(id_token) < 2500 else None
    return response


def _national_failure(reason: str, detail: str, status: int | None = None, message=None, fin: str | None = None):
    """A page that says what went wrong and what to do; nothing of a session is left, and the attempt is audited."""
    db.session.rollback()
    for key in [key for key in session if key.startswith("_state_") or key.startswith("pending_")]:
        session.pop(key)
    signin.record_sign_in_failure(db.session, reason, {"detail": detail[:200], **({"fin": fin[:7]} if fin else {})})
    default_status, default_message = NATIONAL_FAILURES.get(reason, NATIONAL_FAILURES["error"])
    return render("auth/national_error.html", status=status or default_status, message=message or default_message)


def _finish(result: signin.SignInResult, method: str):
    """Sign in to the single insurer, or ask which one."""
    if len(result.accesses) == 1:
        access = result.accesses[0]
        signin.record_sign_in(db.session, result.credential, access, method)
        commit()
        _open_session(result.credential, access)
        return redirect_to(url_for("employer.insurer"))
    commit()
    session.clear()
    session["pending_credential"] = result.credential.id
    session["pending_method"] = method
    return redirect_to(url_for("auth.choose_insurer"))


def _open_session(credential: Credential, access) -> None:
    start_session(EmployerPrincipal.signed_in(credential, access))
    for grant in access.grants:
        if grant_ends_soon(grant, today()):
            flash(_("Sizə verilmiş səlahiyyətin müddəti %(date)s tarixində bitir.",
                    date=format_day(grant_effective_end(grant))), "warning")


@bp.route("/sign-in/insurer", methods=["GET", "POST"])
def choose_insurer():
    """A credential that may act for several insurers chooses one."""
    credential_id = session.get("pending_credential")
    credential = db.session.get(Credential, credential_id) if credential_id else None
    if credential is None:
        return redirect(url_for("auth.sign_in"))
    accesses = accesses_for(db.session, credential, today())
    if request.method == "POST":
        form = FlaskForm()
        chosen = parse_id(request.form.get("insurer_id"))
        access = access_for(db.session, credential, chosen, today()) if chosen is not None else None
        if form.validate() and access is not None:
            signin.record_sign_in(db.session, credential, access, session.get("pending_method", "card"))
            commit()
            _open_session(credential, access)
            return redirect(url_for("employer.insurer"))
        return render("auth/choose_insurer.html", status=400, accesses=accesses,
                      error=_("Sığortaedəni seçin."))
    return render("auth/choose_insurer.html", accesses=accesses, error=None)


@bp.post("/sign-out")
def sign_out():
    """ÇIXIŞ: end the session here, then at the national login where it offers RP-initiated logout."""
    form = FlaskForm()
    signed_out = form.validate() and current_user.is_authenticated and current_user.kind == "employer"
    if signed_out:
        signin.record_sign_out(db.session, current_user.actor())
        commit()
    id_token = session.get("id_token")
    end_session()
    flash(_("Siz xidmətdən çıxdınız."), "success")
    target = url_for("auth.sign_in")
    if signed_out:
        target = national_login.logout_url(public_base_url() + target, id_token) or target
    return redirect(target)
