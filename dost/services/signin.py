"""Employer sign-in on the national login's word (its claims, mapped by dost.services.national_identity), and the
signer's checks when an application is signed (the card's PIN again, or an Asan İmza phone confirmation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dost import i18n, validation
from dost.models import Credential, CredentialKind, Insurer
from dost.registries import registries_for
from dost.registries.interfaces import AsanChallenge, SignatureError
from dost.services import audit, throttle
from dost.services.actors import NATIONAL_LOGIN_LABEL, Actor
from dost.services.authority import InsurerAccess, accesses_for
from dost.services.errors import DomainError, ProviderUnavailable
from dost.services.national_identity import NationalIdentity
from dost.timeutil import today, utcnow

MAX_FIELD = 64


@dataclass
class SignInResult:
    credential: Credential
    accesses: list[InsurerAccess]


def _card_failed(session: Session, attempt: throttle.Attempt, card_number: str) -> DomainError | None:
    """Audit a lock that this failure leaves on a real card; returns the answer when it locks."""
    if attempt.locked_until is None:
        return None
    record = registries_for(session).signatures.find_credential(CredentialKind.CARD, card_number)
    if record is not None:
        # In a transaction of its own: the caller rolls the failed sign-in back.
        with throttle.apart(session) as own:
            audit.record(own, Actor.system(), "credential.throttled", "credential", record.credential_id,
                         {"locked_until": attempt.locked_until, "failures": attempt.failures})
    return attempt.failed("pin")


def _check_in_force(session: Session, credential_id: int, on: date) -> None:
    credential = session.get_one(Credential, credential_id)
    if not credential.in_force(on):
        raise DomainError(
            "credential_expired",
            _l("E-imzanın etibarlılıq müddəti %(date)s tarixində bitib. Yeni sertifikat əldə edin.",
               date=i18n.Day(credential.valid_until)),
            None,
        )


def _complete(session: Session, credential_id: int, on: date) -> SignInResult:
    credential = session.get_one(Credential, credential_id)
    _check_in_force(session, credential_id, on)
    accesses = accesses_for(session, credential, on)
    if not accesses:
        raise DomainError(
            "no_insurer",
            _l("Bu e-imza heç bir sığortaedən adından çıxış etmək səlahiyyətinə malik deyil. Xidmətə ilk dəfə "
               "möhür vurmaq səlahiyyəti olan e-imza ilə daxil olmaq lazımdır."),
            None,
        )
    actor = Actor(kind="employer", label=credential.holder_name, credential_id=credential.id, role="employer")
    for access in accesses:
        if access.seal and access.insurer.activated_at is None:
            access.insurer.activated_at = utcnow()
            audit.record(session, actor.with_authority("seal"), "insurer.activated", "insurer", access.insurer.id,
                         {"activated_at": access.insurer.activated_at}, insurer_id=access.insurer.id)
    return SignInResult(credential, accesses)


def sign_in_with_identity(session: Session, identity: NationalIdentity, on: date) -> SignInResult:
    """The national login vouched for this person and certificate: the app's copy of the credential follows what
    the provider says (holder, validity, seal authority), then the usual rules decide which insurers it may act for."""
    registries = registries_for(session)
    if registries.population.find_by_fin(identity.fin) is None:
        raise DomainError("fin_unknown", _l("Milli giriş sistemindən gələn FİN (%(fin)s) əhali reyestrində tapılmadı. "
                                            "DOST mərkəzinə müraciət edin.", fin=identity.fin), None)
    seal_insurer = None
    if identity.seal_voen is not None:
        seal_insurer = session.scalar(select(Insurer).where(Insurer.voen == identity.seal_voen))
    credential = _credential_for(session, identity)
    if credential is not None and credential.fin != identity.fin:
        # The provider's subject changed hands (or the claims are inconsistent): never merge two people.
        raise DomainError("credential_mismatch", _l("Bu e-imza sertifikatı başqa şəxsin adına qeydiyyatdadır. DOST "
                                                    "mərkəzinə müraciət edin."), None)
    values = {
        "fin": identity.fin,
        "holder_name": identity.holder_name,
        "valid_from": identity.valid_from,
        "valid_until": identity.valid_until,
        "seal_insurer_id": seal_insurer.id if seal_insurer is not None else None,
    }
    if identity.asan_user_id is not None:
        values["asan_user_id"] = identity.asan_user_id
    actor = Actor.system(NATIONAL_LOGIN_LABEL)
    if credential is None:
        credential = Credential(kind=identity.kind, card_number=identity.card_number,
                                mobile_number=identity.mobile_number, **values)
        session.add(credential)
        session.flush()
        audit.record(session, actor, "credential.registered", "credential", credential.id,
                     {"kind": identity.kind.value, "subject": identity.subject, **values})
    else:
        changes = {name: {"from": getattr(credential, name), "to": value} for name, value in values.items()
                   if getattr(credential, name) != value}
        if changes:
            for name in changes:
                setattr(credential, name, values[name])
            session.flush()
            audit.record(session, actor, "credential.updated", "credential", credential.id, changes)
    try:
        return _complete(session, credential.id, on)
    except DomainError as error:
        if error.code == "no_insurer" and identity.seal_voen is not None and seal_insurer is None:
            raise DomainError("voen_unknown", _l("Sertifikatda göstərilən VÖEN (%(voen)s) üzrə sığortaedən DSMF-də "
                                                 "qeydiyyatda deyil.", voen=identity.seal_voen), None) from None
        raise


def _credential_for(session: Session, identity: NationalIdentity) -> Credential | None:
    """The app's row for this certificate: by card number, or by kind and mobile number."""
    if identity.card_number is not None:
        condition = Credential.card_number == identity.card_number
    else:
        condition = (Credential.kind == identity.kind) & (Credential.mobile_number == identity.mobile_number)
    return session.scalar(select(Credential).where(condition).order_by(Credential.id).limit(1))


def record_sign_in_failure(session: Session, reason: str, detail: dict | None = None) -> None:
    """Audit a sign-in at the national login that did not open a session (in a transaction of its own)."""
    with throttle.apart(session) as own:
        audit.record(own, Actor.system(NATIONAL_LOGIN_LABEL), "session.sign_in_failed", "credential", None,
                     {"reason": reason, **(detail or {})})


def record_sign_in(session: Session, credential: Credential, access: InsurerAccess, method: str) -> None:
    """Audit the start of a session for one insurer."""
    actor = Actor(kind="employer", label=credential.holder_name, credential_id=credential.id, role="employer",
                  insurer_id=access.insurer.id, authority="seal" if access.seal else "delegate")
    audit.record(session, actor, "session.sign_in", "credential", credential.id, {"method": method})


def check_signer_pin(session: Session, credential: Credential, pin: str, now: datetime | None = None) -> None:
    """Signing with the card asks the provider for the PIN again (the card's guessing limit counts it too)."""
    pin = (pin or "").strip()
    if not pin:
        raise DomainError("required", _l("İmzalamaq üçün PIN kodu daxil edin."), "pin")
    if len(pin) > MAX_FIELD or not validation.PIN_RE.fullmatch(pin):
        raise DomainError("format", _l("PIN kod 4–8 rəqəmdən ibarət olmalıdır."), "pin")
    if credential.kind != CredentialKind.CARD or credential.card_number is None:
        raise DomainError("wrong_kind", _l("Bu e-imza ilə PIN kodla imzalamaq mümkün deyil."), "pin")
    attempt = throttle.attempt(session, throttle.card(credential.card_number), now or utcnow(), "pin")
    try:
        record = registries_for(session).signatures.check_card(credential.card_number, pin)
    except SignatureError as error:
        if error.code == "unavailable":
            raise _unavailable("pin") from None
        locked = _card_failed(session, attempt, credential.card_number)
        if locked is not None:
            raise locked from None
        if error.code == "throttled":
            # The provider locked the card by its own count (sign-in guesses there count too).
            raise DomainError("throttled", _l("Çox sayda uğursuz cəhd edildi. Kart təhlükəsizlik məqsədilə müvəqqəti "
                                              "bloklanıb; bir qədər sonra yenidən cəhd edin."), "pin") from None
        raise DomainError("wrong_pin", _l("PIN kod yanlışdır."), "pin") from None
    throttle.succeeded(session, attempt)
    # The card must be the signed-in credential's.
    if record.credential_id != credential.id or not record.in_force(today()):
        raise DomainError("credential_expired", _l("E-imzanın etibarlılıq müddəti bitib."), "pin")


def start_signing(session: Session, credential: Credential) -> AsanChallenge:
    """Asan İmza signing: a confirmation request to the signer's phone."""
    if not credential.in_force(today()):
        raise DomainError("credential_expired", _l("E-imzanın etibarlılıq müddəti bitib."), None)
    try:
        return registries_for(session).signatures.start_asan(credential.id, "sign")
    except SignatureError as error:
        if error.code == "unavailable":
            raise _unavailable(None) from None
        raise DomainError("not_at_provider", _l("Bu Asan İmza imza provayderində tapılmadı."), None) from None


def poll_signing(session: Session, token: str, now: datetime, timeout_seconds: int) -> tuple[str, int | None]:
    """('pending'|'confirmed'|'expired'|'unknown', credential id once confirmed); while the provider does not answer,
    still pending (the page asks again)."""
    try:
        return registries_for(session).signatures.asan_state(token, now, timeout_seconds)
    except SignatureError:
        return "pending", None


def _unavailable(field: str | None) -> ProviderUnavailable:
    return ProviderUnavailable("provider_unavailable", _l("İmza provayderi hazırda cavab vermir. Bir neçə dəqiqədən "
                                                          "sonra yenidən cəhd edin."), field)


def record_sign_out(session: Session, actor: Actor) -> None:
    """ÇIXIŞ: end this e-signature's sessions (this one and any copy of its cookie) and audit it."""
    audit.end_sessions(session, actor, session.get(Credential, actor.credential_id), "session.sign_out", "credential")
