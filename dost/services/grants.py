"""Authority delegation (Səlahiyyətlərin verilməsi): grants, revocation, the registry, the authorization API."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from dost import i18n, validation
from dost.models import ApiToken, AuditEvent, Credential, CredentialKind, Grant, Insurer, ServiceCode
from dost.registries import registries_for
from dost.services import audit
from dost.services.actors import Actor
from dost.services.authority import GrantState, grant_effective_end, grant_state
from dost.services.errors import DomainError, Forbidden, NotFound
from dost.timeutil import local, utcnow

MAX_INPUT = 64

# The four DSMF services of the manual's "Xidmətin adı" list, in the manual's order.
SERVICE_LABELS = {
    ServiceCode.SSN_CERTIFICATE: _l(
        "Dövlət sosial sığorta şəhadətnaməsinin dəyişdirilməsi və ya dublikatının verilməsi"),
    ServiceCode.INSURED_REGISTRATION: _l("Sığortaolunanların onlayn uçotu"),
    ServiceCode.DEATH_NOTICE: _l("Sığortaolunanın ölümünə dair məlumatın qəbulu"),
    ServiceCode.REPORTS: _l("Hesabatların onlayn qəbulu"),
}
KIND_LABELS = {
    CredentialKind.CARD: _l("RYTN e-İmza kartı"),
    CredentialKind.ASAN: _l("Asan imza"),
    CredentialKind.SIMA: _l("SİMA"),
}

# Registry filters: which grant states each one shows.
FILTERS = {
    "active": (GrantState.ACTIVE, GrantState.NOT_STARTED),
    "expired": (GrantState.EXPIRED, GrantState.SIGNATURE_EXPIRED),
    "revoked": (GrantState.REVOKED,),
    "all": (GrantState.ACTIVE, GrantState.NOT_STARTED, GrantState.EXPIRED, GrantState.SIGNATURE_EXPIRED,
            GrantState.REVOKED),
}
DEFAULT_FILTER = "active"


@dataclass(frozen=True)
class GrantRow:
    """A registry row: the grant, its state on the day, and the last day it can have effect."""

    grant: Grant
    state: str
    effective_end: date


@dataclass(frozen=True)
class Authorization:
    """Answer of the authorization API."""

    allowed: bool
    grant_id: int | None = None
    valid_until: date | None = None


def _seal_credential(session: Session, actor: Actor) -> Credential:
    """The actor's credential if it holds seal authority for the actor's insurer; otherwise Forbidden."""
    credential = session.get(Credential, actor.credential_id) if actor.credential_id else None
    if (
        actor.kind != "employer"
        or actor.insurer_id is None
        or credential is None
        or credential.seal_insurer_id != actor.insurer_id
    ):
        raise Forbidden(
            "not_seal_holder",
            _l("Səlahiyyət vermək və ləğv etmək yalnız möhür vurmaq səlahiyyəti olan e-imza ilə mümkündür."),
        )
    return credential


def _text(value: str | None, field: str, required_message) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError("required", required_message, field)
    if len(value) > MAX_INPUT:
        raise DomainError("too_long", _l("Daxil edilən dəyər çox uzundur."), field)
    return value


def parse_service(value: str | None) -> ServiceCode:
    """Step 1: one of the four services."""
    try:
        return ServiceCode((value or "").strip())
    except ValueError:
        raise DomainError("service", _l("Səlahiyyət vermək istədiyiniz xidmətin adını seçin."), "service") from None


def parse_kind(value: str | None) -> CredentialKind:
    """Step 2: RYTN e-İmza kartı or Asan imza."""
    try:
        return CredentialKind((value or "").strip())
    except ValueError:
        raise DomainError("kind", _l("Səlahiyyətin tipini seçin."), "kind") from None


def parse_fin(value: str | None) -> str:
    """A FİN as stored (upper case), or a message beside the field."""
    fin = validation.normalize_fin(_text(value, "fin", _l("FİN-i daxil edin.")))
    if not validation.is_fin(fin):
        raise DomainError("format", _l("FİN 7 simvoldan (rəqəm və latın hərfləri) ibarət olmalıdır."), "fin")
    return fin


def parse_card_number(value: str | None) -> str:
    card = "".join(_text(value, "card_number", _l("Kartın nömrəsini daxil edin.")).split())
    if not validation.is_card_number(card):
        raise DomainError("format", _l("Kartın nömrəsi 8–16 rəqəmdən ibarət olmalıdır."), "card_number")
    return card


def compose_mobile(prefix: str | None, number: str | None) -> str:
    """The operator prefix select and the 7-digit number as one +994 number (a full number typed is kept)."""
    digits = validation.normalize_mobile(_text(number, "mobile_number", _l("Mobil nömrəni daxil edin.")))
    if digits.isdigit() and len(digits) == 7:
        return f"+994{(prefix or '').strip()}{digits}"
    return digits


def parse_mobile(value: str) -> str:
    if not validation.is_mobile(value):
        raise DomainError(
            "format",
            _l("Operator kodunu (10, 50, 51, 55, 60, 70, 77 və ya 99) seçin və 7 rəqəmli nömrəni daxil edin."),
            "mobile_number",
        )
    return value


def parse_date(value: str | None, field: str, required_message) -> date:
    """A date typed as dd.mm.yyyy or sent by a date picker as yyyy-mm-dd."""
    text = _text(value, field, required_message)
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise DomainError("date_format", _l("Tarixi gg.aa.iiii formatında daxil edin."), field)


def _lock_credential(session: Session, credential_id: int) -> None:
    # A no-op write takes the row lock on PostgreSQL and the write lock on SQLite, so two concurrent grants for
    # the same credential run their duplicate check one after the other.
    session.execute(update(Credential).where(Credential.id == credential_id).values(id=Credential.id))


def _period(grant: Grant) -> tuple[date, date]:
    start = grant.start_date or grant.created_at.date()
    end = grant.end_date if not grant.indefinite and grant.end_date else date.max
    return start, end


def _submission_of(session: Session, grant: Grant) -> str | None:
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.object_type == "grant", AuditEvent.object_id == grant.id, AuditEvent.action == "grant.created"
        )
    )
    return (event.changes or {}).get("submission") if event is not None else None


def create_grant(
    session: Session,
    actor: Actor,
    *,
    service: str | ServiceCode,
    kind: str | CredentialKind,
    fin: str,
    card_number: str | None = None,
    mobile_number: str | None = None,
    indefinite: bool = True,
    start_date: date | None = None,
    end_date: date | None = None,
    on: date,
    submission: str | None = None,
) -> Grant:
    """Təsdiqlə: delegate one service to the credential matching the card or mobile number and the FİN.

    A repeated submission with the same `submission` key returns the grant it already created."""
    granter = _seal_credential(session, actor)
    service = parse_service(service)
    kind = parse_kind(kind)
    if kind == CredentialKind.CARD:
        identifier = parse_card_number(card_number)
        identifier_field = "card_number"
    else:
        identifier = parse_mobile(mobile_number or "")
        identifier_field = "mobile_number"
    fin = parse_fin(fin)
    if indefinite:
        start_date, end_date = on, None
    else:
        if start_date is None:
            raise DomainError("required", _l("Başlanğıc tarixini daxil edin."), "start_date")
        if end_date is None:
            raise DomainError("required", _l("Bitmə tarixini daxil edin."), "end_date")
        if start_date < on:
            raise DomainError("start_in_past", _l("Başlanğıc tarixi keçmiş tarix ola bilməz."), "start_date")
        if end_date < start_date:
            raise DomainError("end_before_start", _l("Bitmə tarixi başlanğıc tarixindən əvvəl ola bilməz."),
                              "end_date")

    registries = registries_for(session)
    if registries.population.find_by_fin(fin) is None:
        raise DomainError("fin_unknown", _l("Bu FİN üzrə şəxs əhali reyestrində tapılmadı."), "fin")
    record = registries.signatures.find_credential(kind, identifier)
    if record is None or record.fin != fin:
        message = {
            CredentialKind.CARD: _l("Bu kart nömrəsi göstərilən FİN-ə məxsus RYTN e-İmza kartına uyğun gəlmir."),
            CredentialKind.ASAN: _l("Bu mobil nömrə göstərilən FİN-ə məxsus Asan İmzaya uyğun gəlmir."),
            CredentialKind.SIMA: _l("Bu mobil nömrə göstərilən FİN-ə məxsus SİMA sertifikatına uyğun gəlmir."),
        }[kind]
        raise DomainError("credential_mismatch", message, identifier_field)
    credential = session.get_one(Credential, record.credential_id)
    if credential.id == granter.id or credential.seal_insurer_id == actor.insurer_id:
        raise DomainError(
            "grant_to_seal_holder",
            _l("Bu e-imza möhür vurmaq səlahiyyətinə malikdir və bütün xidmətlərdən onsuz da istifadə edə bilir; "
               "ona səlahiyyət vermək olmaz."),
            identifier_field,
        )
    if credential.valid_until < (start_date or on):
        raise DomainError(
            "credential_expired",
            _l("Bu e-imzanın etibarlılıq müddəti %(date)s tarixində bitib; səlahiyyət vermək olmaz.",
               date=i18n.Day(credential.valid_until)),
            identifier_field,
        )

    _lock_credential(session, credential.id)
    new_start, new_end = start_date or on, end_date or date.max
    existing = session.scalars(
        select(Grant).where(
            Grant.insurer_id == actor.insurer_id,
            Grant.credential_id == credential.id,
            Grant.service == service,
            Grant.revoked_at.is_(None),
        ).order_by(Grant.id)
    ).all()
    for other in existing:
        if grant_state(other, on) not in (GrantState.ACTIVE, GrantState.NOT_STARTED):
            continue
        other_start, other_end = _period(other)
        if new_start <= other_end and other_start <= new_end:
            if submission and _submission_of(session, other) == submission:
                return other
            period = _l("müddətsiz") if other.indefinite else i18n.Period(other_start, other_end)
            raise DomainError(
                "already_granted",
                _l("Bu e-imzaya həmin xidmət üzrə səlahiyyət artıq verilib və qüvvədədir (%(period)s).",
                   period=period),
            )

    grant = Grant(
        insurer_id=actor.insurer_id,
        service=service,
        credential_id=credential.id,
        indefinite=indefinite,
        start_date=start_date,
        end_date=end_date,
        granted_by_id=granter.id,
        created_at=utcnow(),
    )
    session.add(grant)
    session.flush()
    audit.record(session, actor, "grant.created", "grant", grant.id, {
        "service": service,
        "credential_id": credential.id,
        "kind": kind,
        "identifier": identifier,
        "fin": fin,
        "indefinite": indefinite,
        "start_date": start_date,
        "end_date": end_date,
        "submission": submission,
    })
    return grant


def get_grant(session: Session, actor: Actor, grant_id: int) -> Grant:
    """The insurer's grant, or NotFound (another insurer's id looks like no id at all)."""
    grant = session.get(Grant, grant_id)
    if grant is None or actor.insurer_id is None or grant.insurer_id != actor.insurer_id:
        raise NotFound()
    return grant


def revoke_grant(session: Session, actor: Actor, grant_id: int) -> Grant:
    """× in the registry: end the grant's effect now."""
    granter = _seal_credential(session, actor)
    grant = get_grant(session, actor, grant_id)
    now = utcnow()
    # Conditional update: of two concurrent revocations exactly one takes effect.
    changed = session.execute(
        update(Grant)
        .where(Grant.id == grant.id, Grant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=granter.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(grant)
    if changed != 1:
        raise DomainError(
            "already_revoked",
            _l("Bu səlahiyyət artıq %(date)s tarixində ləğv edilib.",
               date=i18n.Day(local(grant.revoked_at).date()) if grant.revoked_at else "-"),
        )
    audit.record(session, actor, "grant.revoked", "grant", grant.id, {
        "service": grant.service,
        "credential_id": grant.credential_id,
        "revoked_at": now,
    })
    return grant


def list_grants(session: Session, actor: Actor, filter: str, on: date) -> list[GrantRow]:
    """Səlahiyyətlərin reyestri: the insurer's grants in one filter, newest first."""
    _seal_credential(session, actor)
    states = FILTERS.get(filter, FILTERS[DEFAULT_FILTER])
    grants = session.scalars(
        select(Grant)
        .options(joinedload(Grant.credential))
        .where(Grant.insurer_id == actor.insurer_id)
        .order_by(Grant.id.desc())
    ).all()
    rows = [GrantRow(grant, grant_state(grant, on), grant_effective_end(grant)) for grant in grants]
    return [row for row in rows if row.state in states]


def row_for(grant: Grant, on: date) -> GrantRow:
    return GrantRow(grant, grant_state(grant, on), grant_effective_end(grant))


def check_authorization_query(voen: str | None, service: str | None, fin: str | None) -> tuple[str, ServiceCode, str]:
    """The API's three parameters, validated; each error names its parameter."""
    voen = (voen or "").strip()
    if not validation.is_voen(voen):
        raise DomainError("invalid_voen", _l("VÖEN 10 rəqəmdən ibarət olmalıdır və 1 və ya 2 ilə bitməlidir."),
                          "voen")
    try:
        service_code = ServiceCode((service or "").strip())
    except ValueError:
        raise DomainError("invalid_service", _l("Xidmətin kodu bunlardan biri olmalıdır: %(codes)s.",
                                                codes=", ".join(s.value for s in ServiceCode)), "service") from None
    fin_value = (fin or "").strip()
    fin_value = validation.normalize_fin(fin_value) if len(fin_value) <= MAX_INPUT else fin_value
    if not validation.is_fin(fin_value):
        raise DomainError("invalid_fin", _l("FİN 7 simvoldan (rəqəm və latın hərfləri) ibarət olmalıdır."), "fin")
    return voen, service_code, fin_value


def authorization(session: Session, voen: str, service: ServiceCode, fin: str, on: date) -> Authorization:
    """May the person with this FİN act for the insurer with this VÖEN in this service today, and until when?"""
    insurer = session.scalar(select(Insurer).where(Insurer.voen == voen))
    if insurer is None:
        return Authorization(False)
    credentials = session.scalars(select(Credential).where(Credential.fin == fin)).all()
    seal = [c for c in credentials if c.seal_insurer_id == insurer.id and c.in_force(on)]
    if seal:
        return Authorization(True, None, max(c.valid_until for c in seal))
    if insurer.activated_at is None or not credentials:
        # Delegates may act only after a seal holder has entered the service once.
        return Authorization(False)
    grants = session.scalars(
        select(Grant).where(
            Grant.insurer_id == insurer.id,
            Grant.service == service,
            Grant.credential_id.in_([c.id for c in credentials]),
            Grant.revoked_at.is_(None),
        )
    ).all()
    active = [g for g in grants if grant_state(g, on) == GrantState.ACTIVE]
    if not active:
        return Authorization(False)
    best = max(active, key=lambda g: (grant_effective_end(g), g.id))
    return Authorization(True, best.id, grant_effective_end(best))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, actor: Actor, name: str) -> tuple[ApiToken, str]:
    """A new token for another DSMF service; the plain token is returned once and only its SHA-256 is stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("name", _l("Tokenin adı 1–100 simvol olmalıdır."), "name")
    plain = "dost_" + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=_token_hash(plain), created_at=utcnow())
    session.add(token)
    session.flush()
    audit.record(session, actor, "api_token.created", "api_token", token.id, {"name": name})
    return token, plain


def api_token_for(session: Session, plain: str) -> ApiToken | None:
    """The unrevoked token with this value, or None."""
    if not plain or len(plain) > 200:
        return None
    return session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(plain), ApiToken.revoked_at.is_(None))
    )
