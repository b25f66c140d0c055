"""The employer's inbox: status changes, ready for pickup, refusals with reasons, deadline reminders.

Every message is about an SSŞ application, so the inbox is the SSŞ service's: seal holders and delegates holding
its grant (a delegate for other services sees neither the messages nor the badge)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, make_response, redirect, request, url_for
from flask_babel import ngettext
from flask_login import current_user

from dost.auth import employer_required
from dost.blueprints.common import commit, is_htmx, render, toast
from dost.extensions import db
from dost.models import ServiceCode
from dost.services import notifications
from dost.services.errors import NotFound

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


@bp.app_context_processor
def inbox_badge():
    """The unread count for the header badge (only queried when the employer layout asks for it)."""

    def unread() -> int:
        if (not current_user.is_authenticated or current_user.kind != "employer"
                or not current_user.can(ServiceCode.SSN_CERTIFICATE)):
            return 0
        return notifications.unread_count(db.session, current_user.insurer_id)

    return {"inbox_unread": unread}


def _page():
    page = request.args.get("page", type=int) or 1
    unread_only = request.args.get("unread") == "1"
    return notifications.inbox(db.session, g.actor, page, unread_only), unread_only


@bp.get("/")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def index():
    """Bildirişlər: the insurer's messages, newest first."""
    inbox, unread_only = _page()
    return render("inbox/index.html", "inbox/_list.html", inbox=inbox, unread_only=unread_only)


@bp.post("/<int:notification_id>/read")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def read(notification_id: int):
    """Mark one message read."""
    try:
        notifications.mark_read(db.session, g.actor, notification_id)
    except NotFound:
        db.session.rollback()
        abort(404)
    commit()
    if is_htmx():
        inbox, unread_only = _page()
        # The header badge changes too: it comes along as an out-of-band swap.
        body, status = render("inbox/index.html", "inbox/_list.html", inbox=inbox, unread_only=unread_only,
                              oob_badge=True)
        return make_response(body, status)
    return redirect(url_for("inbox.index", page=request.args.get("page", type=int)))


@bp.post("/read-all")
@employer_required(ServiceCode.SSN_CERTIFICATE)
def read_all():
    """Mark every message read."""
    count = notifications.mark_all_read(db.session, g.actor)
    commit()
    message = ngettext("%(num)d bildiriş oxunmuş kimi qeyd edildi.", "%(num)d bildiriş oxunmuş kimi qeyd edildi.",
                       count)
    if is_htmx():
        inbox, unread_only = _page()
        body, status = render("inbox/index.html", "inbox/_list.html", inbox=inbox, unread_only=unread_only,
                              oob_badge=True)
        return toast(make_response(body, status), message)
    flash(message, "success")
    return redirect(url_for("inbox.index"))
