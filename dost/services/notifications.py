"""The employer's inbox: status changes, ready for pickup, refusals with reasons, deadline reminders."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dost import i18n
from dost.models import Application, Notification
from dost.services import audit
from dost.services.actors import Actor
from dost.services.errors import NotFound
from dost.timeutil import utcnow

KIND_STATUS = "status_changed"
KIND_READY = "ready_for_pickup"
KIND_REFUSED = "refused"
KIND_REMINDER = "deadline_reminder"

PAGE_SIZE = 20


def render_text(message: object) -> str:
    """A lazy message as stored text, in Azerbaijani (the employer's language of record)."""
    return i18n.record_text(i18n.freeze(message))


def post(session: Session, application: Application, kind: str, message: object,
         dedupe_key: str | None = None) -> Notification | None:
    """Put a message in the application's employer's inbox; None when there is no employer or it was sent."""
    if application.insurer_id is None:
        # A walk-in application of a person without an employer: there is no cabinet to write to.
        return None
    if dedupe_key is not None and session.scalar(
        select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    ) is not None:
        return None
    # Stored as Azerbaijani text and as msgid + parameters, so each reader sees it in their own language.
    key = i18n.freeze(message)
    item = Notification(insurer_id=application.insurer_id, application_id=application.id, kind=kind,
                        message=i18n.record_text(key), message_key=key if isinstance(key, dict) else None,
                        created_at=utcnow(), dedupe_key=dedupe_key)
    session.add(item)
    session.flush()
    return item


def _own(actor: Actor):
    if actor.kind != "employer" or actor.insurer_id is None:
        raise NotFound()
    return Notification.insurer_id == actor.insurer_id


def unread_count(session: Session, insurer_id: int) -> int:
    """Unread messages of an insurer (the header badge)."""
    return session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.insurer_id == insurer_id, Notification.read_at.is_(None))
    ) or 0


@dataclass
class InboxPage:
    items: list[Notification]
    page: int
    pages: int
    total: int
    unread: int


def inbox(session: Session, actor: Actor, page: int = 1, unread_only: bool = False) -> InboxPage:
    """The employer's messages, newest first, one page."""
    condition = _own(actor)
    query = select(Notification).where(condition)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    items = list(session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ))
    return InboxPage(items, page, pages, total, unread_count(session, actor.insurer_id))


def mark_read(session: Session, actor: Actor, notification_id: int) -> Notification:
    """Mark one message read (another insurer's message is not found); repeating it changes nothing."""
    item = session.scalar(select(Notification).where(_own(actor), Notification.id == notification_id))
    if item is None:
        raise NotFound()
    if item.read_at is None:
        item.read_at = utcnow()
        session.flush()
        audit.record(session, actor, "notification.read", "notification", item.id, {"read_at": item.read_at})
    return item


def mark_all_read(session: Session, actor: Actor) -> int:
    """Mark every unread message of the insurer read; returns how many."""
    condition = _own(actor)
    now = utcnow()
    changed = session.execute(
        update(Notification).where(condition, Notification.read_at.is_(None)).values(read_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        session.expire_all()
        audit.record(session, actor, "notification.read_all", "insurer", actor.insurer_id, {"count": changed})
    return changed
