"""DOST staff accounts: sign-in with username, password (argon2) and a TOTP code; the administrator's
account management (create, deactivate, unlock, reset the second factor)."""

from __future__ import annotations

import hmac
import io
import re
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from dost.models import BackOffice, Centre, StaffRole, StaffUser
from dost.services import audit, throttle
from dost.services.actors import Actor
from dost.services.errors import DomainError, Forbidden, NotFound
from dost.services.passwords import check_password, hash_password
from dost.timeutil import as_utc

TOTP_INTERVAL = 30
# Codes of the previous and the next 30-second step are accepted too: phone clocks drift.
TOTP_WINDOW = 1
MAX_FIELD = 128
MIN_PASSWORD = 12
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
CODE_RE = re.compile(r"\d{6}")
ISSUER = "DOST SSŞ"

_dummy_hash: str | None = None


def _actor_for(user: StaffUser) -> Actor:
    return Actor(kind="staff", label=user.full_name, staff_user_id=user.id, role=user.role.value,
                 authority=user.role.value)


def _require(value: str | None, field: str, message) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError("required", message, field)
    if len(value) > MAX_FIELD:
        raise DomainError("too_long", _l("Daxil edilən dəyər çox uzundur."), field)
    return value


def _wrong_credentials() -> DomainError:
    return DomainError("wrong_password", _l("İstifadəçi adı və ya şifrə yanlışdır."), "password")


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The TOTP time step whose code this is (within the allowed drift), or None."""
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int(as_utc(now).timestamp()) // TOTP_INTERVAL
    for step in (current, current - TOTP_WINDOW, current + TOTP_WINDOW):
        if hmac.compare_digest(totp.at(step * TOTP_INTERVAL), code):
            return step
    return None


def _fail(session: Session, attempt: throttle.Attempt, user: StaffUser | None, reason: str) -> DomainError | None:
    """Audit a failed attempt on a real account, and the lock it leaves; returns the answer when it locks."""
    if user is not None:
        audit.record(session, _actor_for(user), "staff.sign_in_failed", "staff_user", user.id,
                     {"reason": reason, "failures": attempt.failures})
        if attempt.locked_until is not None:
            audit.record(session, _actor_for(user), "staff.locked", "staff_user", user.id,
                         {"locked_until": attempt.locked_until, "failures": attempt.failures})
    # Keyed by the name typed: an unknown name gets the very same answers, so names cannot be probed.
    return attempt.failed("password")


def sign_in(session: Session, username: str | None, password: str | None, code: str | None,
            now: datetime) -> StaffUser:
    """Check the password and a fresh TOTP code, within the guessing limit of the user name as typed."""
    # A failure's audit events are flushed before the error is raised: the caller commits them all the same.
    global _dummy_hash
    username = _require(username, "username", _l("İstifadəçi adını daxil edin.")).lower()
    password = _require(password, "password", _l("Şifrəni daxil edin."))
    code = re.sub(r"\s", "", _require(code, "code", _l("Autentifikator tətbiqindəki 6 rəqəmli kodu daxil edin.")))
    if not CODE_RE.fullmatch(code):
        raise DomainError("format", _l("Təsdiq kodu 6 rəqəmdən ibarət olmalıdır."), "code")
    attempt = throttle.attempt(session, throttle.staff(username), now, "password")
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        # Spend the same time as for a real account, so names cannot be probed by timing.
        _dummy_hash = _dummy_hash or hash_password("no-such-user")
        check_password(_dummy_hash, password)
        raise _fail(session, attempt, None, "password") or _wrong_credentials()
    if not check_password(user.password_hash, password):
        raise _fail(session, attempt, user, "password") or _wrong_credentials()
    if not user.active:
        raise DomainError("inactive", _l("Hesab deaktiv edilib. Administratora müraciət edin."), "username")
    step = matching_step(user.totp_secret, code, now)
    if step is None:
        raise _fail(session, attempt, user, "code") or DomainError(
            "wrong_code", _l("Təsdiq kodu yanlışdır və ya vaxtı keçib. Tətbiqdəki cari kodu daxil edin."), "code")
    # Accept each code once, even when two sign-ins race with it: only one can move the step forward.
    taken = session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, or_(StaffUser.last_totp_step.is_(None), StaffUser.last_totp_step < step))
        .values(last_totp_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise _fail(session, attempt, user, "code_reused") or DomainError(
            "code_reused", _l("Bu kod artıq istifadə olunub. Tətbiqdə növbəti kodun çıxmasını gözləyin."), "code")
    throttle.succeeded(session, attempt)
    session.refresh(user)
    audit.record(session, _actor_for(user), "staff.sign_in", "staff_user", user.id, {"role": user.role})
    return user


def record_sign_out(session: Session, actor: Actor) -> None:
    """End the staff user's sessions (this one and any copy of its cookie) and audit it."""
    audit.end_sessions(session, actor, session.get(StaffUser, actor.staff_user_id), "staff.sign_out", "staff_user")


# --- administration ----------------------------------------------------------------------------------------


def _require_admin(session: Session, actor: Actor) -> StaffUser:
    admin = session.get(StaffUser, actor.staff_user_id) if actor.kind == "staff" and actor.staff_user_id else None
    if admin is None or not admin.active or admin.role != StaffRole.ADMIN:
        raise Forbidden("forbidden", _l("Bu əməliyyat yalnız administrator üçündür."))
    return admin


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(username: str, secret: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(name=username, issuer_name=ISSUER)


def enrolment_svg(username: str, secret: str) -> str:
    """The enrolment QR code as an SVG document (presentation attributes only, no style)."""
    buffer = io.BytesIO()
    segno.make(provisioning_uri(username, secret), error="m").save(
        buffer, kind="svg", scale=4, xmldecl=False, svgclass="qr", lineclass=None, title=f"{ISSUER}: {username}")
    return buffer.getvalue().decode()


@dataclass
class NewStaff:
    """The administrator's form for a new account."""

    username: str | None
    full_name: str | None
    role: str | None
    password: str | None
    centre_id: int | None = None
    back_office: str | None = None
    region: str | None = None


def regions(session: Session) -> list[str]:
    """Regions that have DOST centres (the supervisors' scopes)."""
    return sorted(set(session.scalars(select(Centre.region))))


def create_user(session: Session, actor: Actor, data: NewStaff) -> tuple[StaffUser, str]:
    """Create an account with its scope; returns it and the TOTP secret to enrol (shown once)."""
    _require_admin(session, actor)
    username = _require(data.username, "username", _l("İstifadəçi adını daxil edin.")).lower()
    if not USERNAME_RE.fullmatch(username):
        raise DomainError("format", _l("İstifadəçi adı 3–64 simvol olmalıdır: kiçik latın hərfləri, rəqəmlər, nöqtə, "
                                       "defis və alt xətt."), "username")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise DomainError("taken", _l("Bu istifadəçi adı artıq mövcuddur."), "username")
    full_name = _require(data.full_name, "full_name", _l("Əməkdaşın adını daxil edin."))
    try:
        role = StaffRole(data.role or "")
    except ValueError:
        raise DomainError("required", _l("Rolu seçin."), "role") from None
    password = data.password or ""
    if len(password) < MIN_PASSWORD:
        raise DomainError("weak", _l("Şifrə ən azı %(min)d simvoldan ibarət olmalıdır.", min=MIN_PASSWORD), "password")
    if len(password) > MAX_FIELD:
        raise DomainError("too_long", _l("Daxil edilən dəyər çox uzundur."), "password")
    centre_id = back_office = region = None
    if role == StaffRole.AGENT:
        centre = session.get(Centre, data.centre_id) if data.centre_id else None
        if centre is None:
            raise DomainError("required", _l("Sosial agentin DOST mərkəzini seçin."), "centre_id")
        centre_id = centre.id
    elif role == StaffRole.BACKOFFICE:
        try:
            back_office = BackOffice(data.back_office or "")
        except ValueError:
            raise DomainError("required", _l("Arxa ofisi seçin."), "back_office") from None
    elif role == StaffRole.SUPERVISOR:
        if not data.region or data.region not in regions(session):
            raise DomainError("required", _l("Nəzarətçinin regionunu seçin."), "region")
        region = data.region
    secret = new_secret()
    user = StaffUser(username=username, full_name=full_name, password_hash=hash_password(password),
                     totp_secret=secret, role=role, centre_id=centre_id, back_office=back_office, region=region,
                     active=True)
    session.add(user)
    session.flush()
    audit.record(session, actor, "staff.created", "staff_user", user.id,
                 {"username": username, "role": role, "centre_id": centre_id, "back_office": back_office,
                  "region": region})
    return user, secret


def _target(session: Session, actor: Actor, user_id: int) -> tuple[StaffUser, StaffUser]:
    admin = _require_admin(session, actor)
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound()
    return admin, user


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> StaffUser:
    """Deactivate (or reactivate) an account; a deactivated user's session ends at the next request."""
    admin, user = _target(session, actor, user_id)
    if user.id == admin.id and not active:
        raise DomainError("self", _l("Öz hesabınızı deaktiv edə bilməzsiniz."))
    if user.active != active:
        user.active = active
        session.flush()
        audit.record(session, actor, "staff.activated" if active else "staff.deactivated", "staff_user", user.id,
                     {"active": active})
    return user


def lockouts(session: Session, actor: Actor, users: list[StaffUser], now: datetime) -> dict[int, datetime]:
    """The accounts among these whose user name is locked at `now`, with the end of the lock."""
    _require_admin(session, actor)
    ids = {throttle.staff(user.username): user.id for user in users}
    return {ids[subject]: until for subject, until in throttle.locked(session, ids, now).items()}


def unlock(session: Session, actor: Actor, user_id: int) -> StaffUser:
    """Lift a lockout before its time: the failed attempts against the user name are forgotten."""
    _, user = _target(session, actor, user_id)
    if throttle.clear(session, throttle.staff(user.username)):
        audit.record(session, actor, "staff.unlocked", "staff_user", user.id)
    return user


def reset_totp(session: Session, actor: Actor, user_id: int) -> tuple[StaffUser, str]:
    """A new second-factor secret (lost phone); the old codes stop working at once and a lockout is lifted."""
    _, user = _target(session, actor, user_id)
    secret = new_secret()
    user.totp_secret = secret
    user.last_totp_step = None
    throttle.clear(session, throttle.staff(user.username))
    session.flush()
    # The secret itself never goes into the audit trail.
    audit.record(session, actor, "staff.totp_reset", "staff_user", user.id)
    return user, secret


def list_users(session: Session, actor: Actor) -> list[StaffUser]:
    """Every staff account, for the administrator."""
    _require_admin(session, actor)
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))
