"""Signed-in principals (employer credential for an insurer, or staff user) and the route guards."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from functools import wraps

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam, select

from dost import i18n
from dost.extensions import db, login_manager
from dost.models import Credential, Insurer, ServiceCode, StaffRole, StaffUser
from dost.services.actors import Actor
from dost.services.authority import InsurerAccess, access_for
from dost.timeutil import as_utc, today, utcnow


class EmployerPrincipal:
    """A credential acting for one insurer in this session."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    kind = "employer"

    def __init__(self, credential: Credential, insurer: Insurer, access: InsurerAccess | None):
        self.credential = credential
        self.insurer = insurer
        self.access = access

    def get_id(self) -> str:
        return f"e:{self.credential.id}:{self.insurer.id}"

    @property
    def locale(self) -> str | None:
        """The interface language stored for this e-signature."""
        return self.credential.locale

    @locale.setter
    def locale(self, value: str) -> None:
        self.credential.locale = value

    @property
    def is_seal_holder(self) -> bool:
        return bool(self.access and self.access.seal)

    def can(self, service: ServiceCode) -> bool:
        return bool(self.access and self.access.authority(service))

    def actor(self, service: ServiceCode | None = None) -> Actor:
        """The service-layer actor, carrying the authority for the given service."""
        authority = None
        if self.access is not None:
            authority = self.access.authority(service) if service else ("seal" if self.access.seal else "delegate")
        return Actor(
            kind="employer",
            label=self.credential.holder_name,
            credential_id=self.credential.id,
            insurer_id=self.insurer.id,
            role="seal_holder" if self.is_seal_holder else "delegate",
            authority=authority,
        )


class StaffPrincipal:
    """A DOST staff user, signed in with password and TOTP."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    kind = "staff"

    def __init__(self, user: StaffUser):
        self.user = user

    def get_id(self) -> str:
        return f"s:{self.user.id}"

    @property
    def locale(self) -> str | None:
        """The interface language stored for this account."""
        return self.user.locale

    @locale.setter
    def locale(self, value: str) -> None:
        self.user.locale = value

    def actor(self) -> Actor:
        return Actor(
            kind="staff",
            label=self.user.full_name,
            staff_user_id=self.user.id,
            role=self.user.role.value,
            authority=self.user.role.value,
        )


# Both rows in one prebuilt statement: this runs on every signed-in request.
_PRINCIPAL_ROWS = (
    select(Credential, Insurer)
    .join(Insurer, Insurer.id == bindparam("insurer_id"))
    .where(Credential.id == bindparam("credential_id"))
)


def load_principal(principal_id: str):
    """Rebuild the principal on each request, so a revoked grant or expired signature takes effect at once."""
    kind, _, rest = principal_id.partition(":")
    try:
        if kind == "e":
            credential_id, insurer_id = (int(part) for part in rest.split(":"))
            pair = db.session.execute(
                _PRINCIPAL_ROWS, {"credential_id": credential_id, "insurer_id": insurer_id}
            ).first()
            if pair is None:
                return None
            credential, insurer = pair
            if _signed_out_since_sign_in(credential.signed_out_at):
                return None
            return EmployerPrincipal(credential, insurer, access_for(db.session, credential, insurer_id, today()))
        if kind == "s":
            user = db.session.get(StaffUser, int(rest))
            if user is None or not user.active or _signed_out_since_sign_in(user.signed_out_at):
                return None
            return StaffPrincipal(user)
    except ValueError:
        return None
    return None


def _signed_out_since_sign_in(signed_out_at: datetime | None) -> bool:
    """Whether this session began before the user's last sign-out (a kept or copied cookie of an ended session)."""
    return signed_out_at is not None and session.get("signed_in_at", 0) <= as_utc(signed_out_at).timestamp()


def start_session(principal) -> None:
    """Sign in with a fresh session: nothing from before survives (session fixation), new session id.

    The language is the one stored for the user, else the one this browser was using."""
    locale = principal.locale or session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    # Messages of this same request (flashes after sign-in) use the user's language too.
    refresh()
    i18n.forget_request_translations()
    session["sid"] = secrets.token_urlsafe(16)
    session["signed_in_at"] = utcnow().timestamp()
    login_user(principal)


def end_session() -> None:
    """Forget the user in this browser (the sign-out views also end the user's other sessions)."""
    logout_user()
    session.clear()


def employer_required(service: ServiceCode | None = None, seal: bool = False) -> Callable:
    """Only a signed-in employer whose credential may act for the insurer today (and holds the service)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or current_user.kind != "employer":
                return redirect(url_for("auth.sign_in", next=request.full_path if request.method == "GET" else None))
            if current_user.access is None:
                # The signature expired or every grant ended since sign-in.
                end_session()
                flash(_l("E-imzanızın və ya səlahiyyətinizin müddəti bitib. Yenidən daxil olun."), "error")
                return redirect(url_for("auth.sign_in"))
            if seal and not current_user.is_seal_holder:
                abort(403)
            if service is not None and not current_user.can(service):
                abort(403)
            g.actor = current_user.actor(service)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def staff_required(*roles: StaffRole) -> Callable:
    """Only a signed-in staff user, of one of the given roles when any are given."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or current_user.kind != "staff":
                return redirect(url_for("staff.sign_in", next=request.full_path if request.method == "GET" else None))
            if roles and current_user.user.role not in roles:
                abort(403)
            g.actor = current_user.actor()
            return view(*args, **kwargs)

        return wrapped

    return decorator


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_principal)
    login_manager.session_protection = None  # sessions are rotated explicitly at sign-in

    @app.context_processor
    def principal_context():
        principal = current_user if current_user.is_authenticated else None
        return {
            "employer": principal if principal is not None and principal.kind == "employer" else None,
            "staff": principal if principal is not None and principal.kind == "staff" else None,
            "ServiceCode": ServiceCode,
        }
