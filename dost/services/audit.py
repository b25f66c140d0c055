"""Audit events as a hash chain: every state change is recorded with who, which authority, when and what."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dost.models import AuditEvent
from dost.services.actors import Actor
from dost.timeutil import as_utc, utcnow

GENESIS_HASH = "0" * 64
# Any constant distinct from other advisory locks of this database.
_AUDIT_CHAIN_LOCK = 7_134_221


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def event_digest(event: AuditEvent) -> str:
    """SHA-256 over the canonical content of an event and the hash of its predecessor."""
    content = {
        "prev": event.prev_hash,
        "at": as_utc(event.at).isoformat(),
        "actor_kind": event.actor_kind,
        "actor_label": event.actor_label,
        "credential_id": event.credential_id,
        "staff_user_id": event.staff_user_id,
        "role": event.role,
        "authority": event.authority,
        "insurer_id": event.insurer_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "changes": event.changes,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | None,
    changes: dict[str, Any] | None = None,
    insurer_id: int | None = None,
) -> AuditEvent:
    """Append an audit event to the chain inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialize chain appends; SQLite serializes writers by itself.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_CHAIN_LOCK})
    previous = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    # Microseconds are kept: both databases store them, and the digest must survive a round trip.
    event = AuditEvent(
        at=utcnow(),
        actor_kind=actor.kind,
        actor_label=actor.label,
        credential_id=actor.credential_id,
        staff_user_id=actor.staff_user_id,
        role=actor.role,
        authority=actor.authority,
        insurer_id=insurer_id if insurer_id is not None else actor.insurer_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        changes=_plain(changes or {}),
        prev_hash=previous or GENESIS_HASH,
    )
    event.hash = event_digest(event)
    session.add(event)
    session.flush()
    return event


@dataclass
class ChainReport:
    """Result of checking the chain: ok, or the first event that does not fit and why."""

    ok: bool
    checked: int
    event_id: int | None = None
    problem: str | None = None


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain in id order and report the first edited, inserted or deleted event."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != expected_prev:
            problem = "deleted_before" if event.prev_hash != GENESIS_HASH else "inserted"
            return ChainReport(False, checked, event.id, problem)
        if event_digest(event) != event.hash:
            return ChainReport(False, checked, event.id, "edited")
        expected_prev = event.hash
        checked += 1
    return ChainReport(True, checked)


def events_for(session: Session, object_type: str, object_id: int) -> list[AuditEvent]:
    """Audit events of one object, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
            .order_by(AuditEvent.id)
        )
    )


def end_sessions(session: Session, actor: Actor, account, action: str, object_type: str) -> None:
    """Sign-out: every session of the account (credential or staff user) begun before now is over; audited."""
    now = utcnow()
    account.signed_out_at = now
    record(session, actor, action, object_type, account.id, {"signed_out_at": now})
