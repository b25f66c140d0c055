"""Audit events as a hash chain: every state change is recorded with who, which authority, when and what.

Each event's hash is an HMAC-SHA256 under the audit key, which is kept outside the database, over its content and
its predecessor's hash: whoever can write to the database but lacks the key cannot recompute the chain after an
edit. Signed checkpoints of the chain head, also kept outside the database (dost.services.audit_checkpoints), show
when the newest events were deleted. Events hashed before the audit key existed (plain SHA-256) are accepted only
up to the head named by a keyed `audit.legacy_sealed` event (`flask dost audit seal-legacy`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from dost.models import AuditEvent
from dost.services.actors import Actor
from dost.services.errors import DomainError
from dost.timeutil import as_utc, utcnow

GENESIS_HASH = "0" * 64
# Any constant distinct from other advisory locks of this database.
_AUDIT_CHAIN_LOCK = 7_134_221
# session.info key set by record(): the commit hook then knows the transaction appended events (and to which engine).
APPENDED = "dost.audit.appended"
LEGACY_SEALED = "audit.legacy_sealed"
MIN_KEY_LENGTH = 32


class AuditKey:
    """The audit key: two keys derived from one secret, the HMAC key of event hashes and the Ed25519 key of
    checkpoints (separate derivations, so neither use can stand in for the other)."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_KEY_LENGTH:
            raise ValueError(f"the audit key must have at least {MIN_KEY_LENGTH} characters")
        material = secret.encode()
        self._mac_key = _derive(material, b"dost audit event hmac v1")
        self._signing_key = Ed25519PrivateKey.from_private_bytes(_derive(material, b"dost audit checkpoint v1"))
        self.public_key = self._signing_key.public_key()
        public = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        # Names the key in checkpoint lines, so a line signed by another key is told apart from a forged one.
        self.kid = hashlib.sha256(public).hexdigest()[:16]

    def mac(self, data: bytes) -> str:
        """HMAC-SHA256 of data under the event key, as hex."""
        mac = hmac.HMAC(self._mac_key, hashes.SHA256())
        mac.update(data)
        return mac.finalize().hex()

    def sign(self, data: bytes) -> str:
        """Ed25519 signature of data, base64url without padding."""
        return base64.urlsafe_b64encode(self._signing_key.sign(data)).rstrip(b"=").decode()

    def signature_valid(self, data: bytes, signature: str) -> bool:
        try:
            raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            self.public_key.verify(raw, data)
        except (InvalidSignature, ValueError):
            return False
        return True


def _derive(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


_keys: weakref.WeakKeyDictionary[Engine, AuditKey] = weakref.WeakKeyDictionary()


def bind_key(engine: Engine, key: AuditKey) -> None:
    """Hash the audit events written through this engine under this key (the app factory calls it)."""
    _keys[engine] = key


def engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def key_for(session: Session) -> AuditKey:
    """The audit key bound to the session's engine."""
    key = _keys.get(engine_of(session))
    if key is None:
        raise RuntimeError("no audit key is bound to this database engine (dost.services.audit.bind_key)")
    return key


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


def _canonical(event: AuditEvent, prev_hash: str) -> bytes:
    content = {
        "prev": prev_hash,
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
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_digest(event: AuditEvent, key: AuditKey, prev_hash: str | None = None) -> str:
    """HMAC-SHA256 under the audit key over the canonical content of an event and its predecessor's hash."""
    return key.mac(_canonical(event, event.prev_hash if prev_hash is None else prev_hash))


def legacy_digest(event: AuditEvent, prev_hash: str | None = None) -> str:
    """The unkeyed SHA-256 that events had before the audit key; anyone can compute it."""
    return hashlib.sha256(_canonical(event, event.prev_hash if prev_hash is None else prev_hash)).hexdigest()


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
    event.hash = event_digest(event, key_for(session))
    session.add(event)
    session.flush()
    session.info[APPENDED] = engine_of(session)
    return event


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement, kept outside the database, that event #event_id with this hash was the head of a chain
    of `count` events at `at`."""

    event_id: int
    hash: str
    count: int
    at: datetime
    source: str = ""


@dataclass(frozen=True)
class Finding:
    """One problem: its kind, the first affected event when known, and what an operator should read."""

    kind: str
    event_id: int | None
    message: str


@dataclass
class ChainReport:
    """Result of checking the chain: ok, or the problems found, the first affected event first."""

    ok: bool
    checked: int
    event_id: int | None = None
    problem: str | None = None
    findings: list[Finding] = field(default_factory=list)
    total: int = 0
    last_event_id: int | None = None
    # Events from before the audit key, sealed by the keyed event legacy_sealed_by.
    legacy: int = 0
    legacy_sealed_by: int | None = None
    # The newest checkpoint the chain still matches; None when no checkpoint was given or none matches.
    covered: Checkpoint | None = None


@dataclass(frozen=True)
class _Seal:
    event_id: int
    head_id: int
    head_hash: str


def _legacy_seal(session: Session, key: AuditKey) -> _Seal | None:
    """The first keyed audit.legacy_sealed event: the head of the events hashed before the audit key."""
    for event in session.scalars(select(AuditEvent).where(AuditEvent.action == LEGACY_SEALED)
                                 .order_by(AuditEvent.id)):
        changes = event.changes if isinstance(event.changes, dict) else {}
        head_id, head_hash = changes.get("legacy_head_id"), changes.get("legacy_head_hash")
        # A seal counts only if the key made it; a forged one is reported by the walk as an edited event.
        if event_digest(event, key) == event.hash and isinstance(head_id, int) and head_id < event.id:
            return _Seal(event.id, head_id, str(head_hash))
    return None


def _link_finding(event: AuditEvent, previous_id: int | None) -> Finding:
    if previous_id is None:
        if event.prev_hash == GENESIS_HASH:
            return Finding("inserted", event.id, f"Event #{event.id} was inserted: it claims to start the chain.")
        return Finding("deleted_before", event.id,
                       f"Event #{event.id} does not follow the start of the chain: the events before it were "
                       f"deleted (ids #1-#{event.id - 1} are missing)." if event.id > 1 else
                       f"Event #{event.id} does not follow the start of the chain: events before it were deleted.")
    if event.prev_hash == GENESIS_HASH:
        return Finding("inserted", event.id,
                       f"Event #{event.id} was inserted: it claims to start a new chain after #{previous_id}.")
    if event.id - previous_id > 1:
        gap = f"#{previous_id + 1}" if event.id - previous_id == 2 else f"#{previous_id + 1}-#{event.id - 1}"
        return Finding("deleted_before", event.id,
                       f"Event #{event.id} does not follow #{previous_id}, the event before it: the events between "
                       f"them were deleted (missing: {gap}).")
    return Finding("deleted_before", event.id,
                   f"Event #{event.id} does not follow #{previous_id}, the event before it: an event between them "
                   f"was deleted, or #{event.id} was inserted or replaced.")


def verify_chain(session: Session, checkpoints: Sequence[Checkpoint] | None = None,
                 rejected: Sequence[Finding] = (), key: AuditKey | None = None) -> ChainReport:
    """Walk the chain in id order: report edited, inserted, deleted and recomputed events, and, given checkpoints
    (None: not checked), truncation and rewriting since them; `rejected` are findings about unusable checkpoints."""
    key = key or key_for(session)
    seal = _legacy_seal(session, key)
    wanted = {checkpoint.event_id for checkpoint in checkpoints or ()}
    walk = _Walk()
    findings = list(rejected)
    report = ChainReport(ok=False, checked=0)
    expected_prev = derived_prev = GENESIS_HASH
    keyed_seen = False
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        report.total += 1
        sealed = seal is not None and event.id <= seal.head_id
        keyed = event_digest(event, key)
        if walk.finding is None:
            finding = None
            if event.prev_hash != expected_prev:
                finding = _link_finding(event, report.last_event_id)
            elif event.hash == keyed:
                keyed_seen = True
            elif event.hash == legacy_digest(event):
                if sealed:
                    report.legacy += 1
                elif not keyed_seen and seal is None:
                    # Unkeyed from the start: a database from before the audit key, or recomputed; told apart below.
                    walk.unkeyed = (walk.unkeyed[0] if walk.unkeyed else event.id, event.id)
                else:
                    finding = Finding("recomputed", event.id,
                                      f"Event #{event.id} has a plain SHA-256 hash where the audit key's HMAC "
                                      "belongs: it (or the chain from it on) was rewritten and the hashes "
                                      "recomputed without the key.")
            else:
                finding = Finding("edited", event.id,
                                  f"Event #{event.id} was edited: its content no longer matches its hash.")
            if finding is None and seal is not None and event.id == seal.head_id and event.hash != seal.head_hash:
                finding = Finding("legacy_changed", event.id,
                                  f"The events up to #{event.id}, from before the audit key, were changed after "
                                  f"event #{seal.event_id} sealed them; their hashes are unkeyed, so which one "
                                  "cannot be told.")
            if finding is None:
                report.checked += 1
            else:
                walk.finding = finding
        # The hash the event would carry if its content and everything before it were authentic.
        if sealed:
            derived = legacy_digest(event, derived_prev)
        else:
            derived = keyed if derived_prev == event.prev_hash else event_digest(event, key, derived_prev)
        if event.id in wanted:
            stored = event.hash if walk.finding is None else None
            walk.at_checkpoints[event.id] = (derived, stored, report.total)
        expected_prev, derived_prev = event.hash, derived
        report.last_event_id = event.id
    if seal is not None:
        report.legacy_sealed_by = seal.event_id
    if walk.finding is not None:
        findings.append(walk.finding)
    if walk.unkeyed:
        findings.append(_unkeyed_finding(walk, checkpoints or ()))
    if checkpoints is not None:
        findings += _checkpoint_findings(session, report, checkpoints, walk)
    findings.sort(key=lambda finding: (finding.event_id is None, finding.event_id or 0))
    report.findings = findings
    report.ok = not findings
    if findings:
        report.event_id, report.problem = findings[0].event_id, findings[0].kind
    return report


@dataclass
class _Walk:
    finding: Finding | None = None
    # First and last id of the unkeyed events at the start of an unsealed chain.
    unkeyed: tuple[int, int] | None = None
    # Checkpointed event id -> (hash derived from the content, stored hash if verified so far, events up to it).
    at_checkpoints: dict[int, tuple[str, str | None, int]] = field(default_factory=dict)


def _unkeyed_finding(walk: _Walk, checkpoints: Sequence[Checkpoint]) -> Finding:
    first, last = walk.unkeyed or (0, 0)
    span = f"#{first}" if first == last else f"#{first}-#{last}"
    # Checkpoints are only ever written for a head carrying the keyed HMAC: one naming an unkeyed event proves that
    # event was rewritten.
    if any(first <= checkpoint.event_id <= last for checkpoint in checkpoints):
        return Finding("recomputed", first,
                       f"Events {span} carry plain SHA-256 hashes where the audit key's HMAC belongs, yet a signed "
                       "checkpoint recorded them keyed: the chain was rewritten and its hashes recomputed without "
                       "the key.")
    return Finding("unkeyed", first,
                   f"Events {span} carry plain SHA-256 hashes, not the audit key's HMAC: either the chain was "
                   "recomputed without the key, or this database predates the audit key and its old events are "
                   "not sealed yet (after checking them against a backup: flask --app app dost audit seal-legacy).")


def _checkpoint_findings(session: Session, report: ChainReport, checkpoints: Sequence[Checkpoint],
                         walk: _Walk) -> list[Finding]:
    """Compare the chain with the signed checkpoints: every checkpointed head must still be in it, unchanged."""
    if not checkpoints:
        if not report.total:
            return []
        return [Finding("unanchored", None,
                        "No valid signed checkpoint covers the chain, so deleting its newest events would go "
                        "unnoticed: is the checkpoint file in place? (flask --app app dost audit checkpoint writes "
                        "one.)")]
    last = report.last_event_id or 0
    matched: list[Checkpoint] = []
    beyond: list[Checkpoint] = []
    diverged: list[Checkpoint] = []
    findings = []
    for checkpoint in sorted(checkpoints, key=lambda c: (c.event_id, c.at)):
        state = walk.at_checkpoints.get(checkpoint.event_id)
        if state is None:
            (beyond if checkpoint.event_id > last else diverged).append(checkpoint)
        elif checkpoint.hash not in state[:2]:
            diverged.append(checkpoint)
        elif state[2] != checkpoint.count:
            findings.append(Finding("count", checkpoint.event_id,
                                    f"The chain holds {state[2]} events up to #{checkpoint.event_id}, but the "
                                    f"checkpoint of {_when(checkpoint)} counted {checkpoint.count}: events before "
                                    "it were deleted or inserted."))
        else:
            matched.append(checkpoint)
    report.covered = max(matched, key=lambda c: (c.event_id, c.at)) if matched else None
    unmatched = sorted(beyond + diverged, key=lambda c: (c.event_id, c.at))
    if not unmatched:
        return findings
    checkpoint = unmatched[0]
    newest = max(unmatched, key=lambda c: (c.count, c.event_id))
    good = max((c.event_id for c in matched if c.event_id < checkpoint.event_id), default=0)
    if walk.finding is not None or walk.unkeyed:
        if beyond:
            findings.append(_truncated(report, beyond[0], newest))
        checkpoint = diverged[0] if diverged else checkpoint
        good = max((c.event_id for c in matched if c.event_id < checkpoint.event_id), default=0)
        # The walk's edit, insertion or deletion after the last matching checkpoint explains the divergence: the
        # checkpointed event follows it, or was itself deleted in the gap the walk found.
        found = walk.finding
        explained = (found is not None and found.kind != "recomputed" and found.event_id is not None
                     and good < found.event_id
                     and (checkpoint.event_id >= found.event_id
                          or (found.kind == "deleted_before" and checkpoint.event_id not in walk.at_checkpoints)))
        if diverged and not explained:
            first = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.id > good)) or good + 1
            span = (f"one of events #{first}-#{checkpoint.event_id}" if first < checkpoint.event_id
                    else f"event #{checkpoint.event_id}")
            findings.append(Finding("diverged", min(first, checkpoint.event_id),
                                    f"Content changed: the chain no longer leads to event #{checkpoint.event_id} as "
                                    f"the checkpoint of {_when(checkpoint)} recorded it, so {span} was edited, "
                                    "inserted or deleted."))
        return findings
    # The chain itself is sound: it was cut, and perhaps the app went on appending after the cut.
    first, previous = _first_appended_after(session, good, checkpoint.at)
    if first is None:
        findings.append(_truncated(report, beyond[0] if beyond else checkpoint, newest))
        return findings
    if first == previous + 1:
        where = f"the first deleted event was #{first}, whose id now holds an event written after the deletion"
    else:
        where = (f"the first missing event is #{previous + 1}, and the chain continues with #{first}, written "
                 "after the deletion")
    findings.append(Finding("truncated", previous + 1,
                            f"The newest events were deleted and the chain went on from there: the checkpoint of "
                            f"{_when(newest)} names event #{newest.event_id} as the head of {newest.count} events, "
                            f"which the chain no longer has; {where}."))
    return findings


def _truncated(report: ChainReport, nearest: Checkpoint, newest: Checkpoint) -> Finding:
    last = report.last_event_id or 0
    missing = newest.count - report.total
    # Ids are consecutive when the events up to the nearest checkpoint fill every id after the chain's end.
    exact = nearest.event_id - last == nearest.count - report.total
    first = f"the first missing event is #{last + 1}" if exact else f"the first missing event came after #{last}"
    end = f"ends at #{last} after {_plural(report.total, 'event')}" if report.total else "is empty"
    return Finding("truncated", last + 1 if exact else None,
                   f"The newest events were deleted (the chain was truncated): the checkpoint of {_when(newest)} "
                   f"names event #{newest.event_id} as the head of {_plural(newest.count, 'event')}, but the chain "
                   f"{end}; {_plural(max(missing, 1), 'event')} missing, {first}.")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _first_appended_after(session: Session, after_id: int, moment: datetime) -> tuple[int | None, int]:
    """The first event after after_id written after moment, and the id of the event before it.

    Events up to a checkpointed head were all written before the checkpoint; an event after them that is newer
    than the checkpoint was appended after the events that followed them were deleted."""
    previous = after_id
    rows = session.execute(select(AuditEvent.id, AuditEvent.at).where(AuditEvent.id > after_id)
                           .order_by(AuditEvent.id)).yield_per(1000)
    for event_id, at in rows:
        if as_utc(at) > moment:
            return event_id, previous
        previous = event_id
    return None, previous


def _when(checkpoint: Checkpoint) -> str:
    moment = as_utc(checkpoint.at).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{moment} ({checkpoint.source})" if checkpoint.source else moment


def head_checkpoint(session: Session, key: AuditKey | None = None) -> Checkpoint | None:
    """A checkpoint of the committed chain head as this session sees it; None for an empty chain.

    Raises DomainError when the head's hash is not its keyed HMAC: a checkpoint must not vouch for a head that was
    rewritten without the key."""
    key = key or key_for(session)
    head = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
    if head is None:
        return None
    if event_digest(head, key) != head.hash:
        raise DomainError("audit_head_unkeyed", f"the chain head, event #{head.id}, does not carry the audit key's "
                                                "HMAC; run `flask --app app dost audit verify`")
    count = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.id <= head.id))
    return Checkpoint(head.id, head.hash, count or 0, utcnow())


def seal_legacy(session: Session, actor: Actor, checkpoints: Sequence[Checkpoint] | None = None,
                key: AuditKey | None = None) -> AuditEvent:
    """Seal the events hashed before the audit key (plain SHA-256) with a keyed event naming their head; audited.

    Refused unless the unkeyed events are the start of the chain, linked, and the chain verifies once sealed."""
    key = key or key_for(session)
    if _legacy_seal(session, key) is not None:
        raise DomainError("audit_already_sealed", "the events from before the audit key are sealed already")
    head: AuditEvent | None = None
    count = 0
    expected_prev = GENESIS_HASH
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != expected_prev or event.hash != legacy_digest(event):
            break
        head, count, expected_prev = event, count + 1, event.hash
    if head is None:
        raise DomainError("audit_nothing_to_seal", "the chain does not start with unkeyed (pre-audit-key) events")
    seal = record(session, actor, LEGACY_SEALED, "audit_event", head.id,
                  {"legacy_head_id": head.id, "legacy_head_hash": head.hash, "legacy_events": count})
    report = verify_chain(session, checkpoints, key=key)
    # A database from before the audit key has no checkpoints yet: the caller writes the first after this.
    problems = [finding.message for finding in report.findings if finding.kind != "unanchored"]
    if problems:
        raise DomainError("audit_not_sealable", " ".join(problems))
    return seal


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
