"""What the national login says about the person who signed in, read from its claims into the app's terms.

The provider's claim names and values differ between providers (Digital Login, ASAN Login, the demo provider), so
every name is configuration (OIDC_CLAIMS, OIDC_CERTIFICATE_KINDS); this module is the only place that reads claims.
A name may be a dotted path into nested claims ("certificate.serial")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from dost import validation
from dost.models import CredentialKind
from dost.services.errors import DomainError

# Where each fact is found in the merged ID token and userinfo claims, by default.
DEFAULT_CLAIMS: Mapping[str, str] = {
    "subject": "sub",
    "fin": "fin",
    "name": "name",
    "certificate_kind": "certificate.kind",
    "card_number": "certificate.serial",
    "mobile_number": "certificate.phone_number",
    "asan_user_id": "certificate.asan_user_id",
    "valid_from": "certificate.valid_from",
    "valid_until": "certificate.valid_until",
    "organizations": "organizations",
    "organization_voen": "voen",
    "organization_seal": "seal",
}

# The provider's words for the certificate's kind → the app's kinds.
DEFAULT_CERTIFICATE_KINDS: Mapping[str, str] = {"card": "card", "asan": "asan", "sima": "sima"}

MAX_ORGANIZATIONS = 50
MAX_TEXT = 200


@dataclass(frozen=True)
class Organization:
    """An insurer the certificate may act for, and whether with seal authority."""

    voen: str
    seal: bool


@dataclass(frozen=True)
class NationalIdentity:
    """A person signed in at the national login with one e-signature certificate."""

    subject: str
    fin: str
    holder_name: str
    kind: CredentialKind
    card_number: str | None
    mobile_number: str | None
    asan_user_id: str | None
    valid_from: date
    valid_until: date
    organizations: tuple[Organization, ...]

    @property
    def seal_voen(self) -> str | None:
        """The VÖEN the certificate carries seal authority for (a qualified certificate carries at most one)."""
        return next((org.voen for org in self.organizations if org.seal), None)


def malformed(claim: str) -> DomainError:
    return DomainError("claims_malformed", _l("Milli giriş sistemi şəxsin məlumatlarını natamam və ya yanlış "
                                              "formatda göndərdi (%(claim)s).", claim=claim), None)


def _lookup(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _text(claims: Mapping[str, Any], path: str, required: bool = True) -> str | None:
    value = _lookup(claims, path)
    if value is None or value == "":
        if required:
            raise malformed(path)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise malformed(path)
    value = str(value).strip()
    if not value or len(value) > MAX_TEXT:
        raise malformed(path)
    return value


def _day(claims: Mapping[str, Any], path: str) -> date:
    """A date as ISO 8601 (date or date-time) or as seconds since the epoch (a JWT NumericDate)."""
    value = _lookup(claims, path)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC).date()
        if isinstance(value, str) and len(value) <= 40:
            text = value.strip()
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
    except (ValueError, OverflowError, OSError):
        pass
    raise malformed(path)


def _organizations(claims: Mapping[str, Any], names: Mapping[str, str]) -> tuple[Organization, ...]:
    value = _lookup(claims, names["organizations"])
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ORGANIZATIONS:
        raise malformed(names["organizations"])
    organizations = []
    for item in value:
        if not isinstance(item, Mapping):
            raise malformed(names["organizations"])
        voen = _text(item, names["organization_voen"])
        seal = item.get(names["organization_seal"], False)
        if not validation.is_voen(voen or "") or not isinstance(seal, bool):
            raise malformed(names["organizations"])
        organizations.append(Organization(voen, seal))
    if sum(org.seal for org in organizations) > 1:
        # A certificate is issued to one legal entity's representative: seal authority for two is not a real one.
        raise malformed(names["organization_seal"])
    return tuple(organizations)


def identity_from_claims(claims: Mapping[str, Any], names: Mapping[str, str] = DEFAULT_CLAIMS,
                         kinds: Mapping[str, str] = DEFAULT_CERTIFICATE_KINDS) -> NationalIdentity:
    """The identity the claims describe; DomainError('claims_malformed') naming the first claim that is missing or
    not of its form."""
    names, kinds = {**DEFAULT_CLAIMS, **names}, {**DEFAULT_CERTIFICATE_KINDS, **kinds}
    fin = (_text(claims, names["fin"]) or "").upper()
    if not validation.is_fin(fin):
        raise malformed(names["fin"])
    kind_word = _text(claims, names["certificate_kind"])
    try:
        kind = CredentialKind(kinds.get(kind_word or "", ""))
    except ValueError:
        raise malformed(names["certificate_kind"]) from None
    card_number = mobile_number = asan_user_id = None
    if kind == CredentialKind.CARD:
        card_number = _text(claims, names["card_number"])
        if not validation.is_card_number(card_number or ""):
            raise malformed(names["card_number"])
    else:
        mobile_number = validation.normalize_mobile(_text(claims, names["mobile_number"]) or "")
        if not validation.is_mobile(mobile_number):
            raise malformed(names["mobile_number"])
        asan_user_id = _text(claims, names["asan_user_id"], required=False)
        if asan_user_id is not None and not validation.ASAN_USER_ID_RE.fullmatch(asan_user_id):
            raise malformed(names["asan_user_id"])
    valid_from, valid_until = _day(claims, names["valid_from"]), _day(claims, names["valid_until"])
    if valid_until < valid_from:
        raise malformed(names["valid_until"])
    return NationalIdentity(
        subject=_text(claims, names["subject"]) or "",
        fin=fin,
        holder_name=validation.az_upper(_text(claims, names["name"]) or ""),
        kind=kind,
        card_number=card_number,
        mobile_number=mobile_number,
        asan_user_id=asan_user_id,
        valid_from=valid_from,
        valid_until=valid_until,
        organizations=_organizations(claims, names),
    )
