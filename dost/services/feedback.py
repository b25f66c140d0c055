"""Feedback ('Əks əlaqə') messages."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dost.models import Feedback
from dost.services import audit
from dost.services.actors import Actor


def submit(session: Session, actor: Actor, contact: str, subject: str, message: str) -> Feedback:
    """Store a feedback message from the signed-in employer."""
    item = Feedback(
        insurer_id=actor.insurer_id,
        credential_id=actor.credential_id,
        contact=contact.strip(),
        subject=subject.strip(),
        message=message.strip(),
    )
    session.add(item)
    session.flush()
    audit.record(session, actor, "feedback.submitted", "feedback", item.id, {"subject": item.subject})
    return item
