"""Which insurers and services a credential may act for today: seal authority or an active grant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from dost.models import Credential, Grant, Insurer, ServiceCode
from dost.services.actors import SEAL_AUTHORITY

# Seal authority: every service, on the seal's own authority.
SEAL_SERVICES = MappingProxyType({service: SEAL_AUTHORITY for service in ServiceCode})


class GrantState:
    ACTIVE = "active"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    SIGNATURE_EXPIRED = "signature_expired"
    REVOKED = "revoked"


def grant_state(grant: Grant, on: date) -> str:
    """A grant is active only if not revoked, today is within its dates, and the delegate's e-signature is in
    force."""
    if grant.revoked_at is not None:
        return GrantState.REVOKED
    if not grant.credential.in_force(on):
        return GrantState.SIGNATURE_EXPIRED
    return _dated_state(grant, on)


def _dated_state(grant: Grant, on: date) -> str:
    """Active, not started or expired by the grant's own dates."""
    if not grant.indefinite:
        if grant.start_date and on < grant.start_date:
            return GrantState.NOT_STARTED
        if grant.end_date and on > grant.end_date:
            return GrantState.EXPIRED
    return GrantState.ACTIVE


def grant_effective_end(grant: Grant) -> date:
    """The last day the grant can be in effect: its end date or the signature's expiry, whichever is first."""
    ends = [grant.credential.valid_until]
    if not grant.indefinite and grant.end_date:
        ends.append(grant.end_date)
    return min(ends)


@dataclass
class InsurerAccess:
    """What one credential may do for one insurer."""

    insurer: Insurer
    seal: bool
    # service → authority string ("seal" or "grant:<id>")
    services: dict[ServiceCode, str] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)

    def authority(self, service: ServiceCode) -> str | None:
        return self.services.get(service)


def access_for(session: Session, credential: Credential, insurer_id: int, on: date) -> InsurerAccess | None:
    """The credential's access to one insurer today, or None."""
    if credential.seal_insurer_id == insurer_id and credential.seal_insurer is not None:
        # Seal authority covers every service; no grant can add to it, so no query for them.
        if not credential.in_force(on):
            return None
        return InsurerAccess(insurer=credential.seal_insurer, seal=True, services=dict(SEAL_SERVICES))
    for access in accesses_for(session, credential, on):
        if access.insurer.id == insurer_id:
            return access
    return None


def _open_grants(credential_id: int):
    """The credential's unrevoked grants at insurers that have signed in once (activated), oldest first."""
    return (
        select(Grant)
        .join(Insurer, Grant.insurer_id == Insurer.id)
        .where(Grant.credential_id == credential_id, Grant.revoked_at.is_(None), Insurer.activated_at.is_not(None))
        .order_by(Grant.id)
    )


def delegate_services(session: Session, credential_id: int, insurer_id: int, signature_in_force: bool,
                      on: date) -> dict[ServiceCode, str] | None:
    """The services a credential holds for one insurer (not its own seal's) by grants active today, or None: what
    access_for gives, for a caller that has the signature's validity but not the credential's row."""
    if not signature_in_force:
        return None
    grants = session.scalars(_open_grants(credential_id).where(Grant.insurer_id == insurer_id))
    services: dict[ServiceCode, str] = {}
    for grant in grants:
        if _dated_state(grant, on) == GrantState.ACTIVE:
            services.setdefault(grant.service, f"grant:{grant.id}")
    return services or None


def accesses_for(session: Session, credential: Credential, on: date) -> list[InsurerAccess]:
    """Every insurer the credential may act for today, seal authority first."""
    if not credential.in_force(on):
        return []
    result: dict[int, InsurerAccess] = {}
    if credential.seal_insurer is not None:
        result[credential.seal_insurer.id] = InsurerAccess(
            insurer=credential.seal_insurer,
            seal=True,
            services=dict(SEAL_SERVICES),
        )
    for grant in session.scalars(_open_grants(credential.id)):
        if grant_state(grant, on) != GrantState.ACTIVE or grant.insurer_id in result and result[grant.insurer_id].seal:
            continue
        access = result.setdefault(grant.insurer_id, InsurerAccess(insurer=grant.insurer, seal=False))
        access.services.setdefault(grant.service, f"grant:{grant.id}")
        access.grants.append(grant)
    return list(result.values())


def grant_ends_soon(grant: Grant, on: date, within_days: int = 7) -> bool:
    """An active grant whose effect (its end date or the delegate's signature expiry) ends within the days."""
    return grant_state(grant, on) == GrantState.ACTIVE and (grant_effective_end(grant) - on).days <= within_days


def grants_ending_soon(session: Session, insurer_id: int, on: date, within_days: int = 7) -> list[Grant]:
    """Active grants of an insurer whose effect ends within the given number of days."""
    grants = session.scalars(
        select(Grant).where(Grant.insurer_id == insurer_id, Grant.revoked_at.is_(None)).order_by(Grant.id)
    )
    return [grant for grant in grants if grant_ends_soon(grant, on, within_days)]
