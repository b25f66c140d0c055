"""The employer's inbox: messages from processing, unread count in the header, marking read, scope."""

import html
from datetime import date

import pytest
from sqlalchemy import select

from dost.models import Notification, ServiceCode
from dost.services import notifications, processing
from dost.services.actors import Actor
from dost.services.errors import NotFound
from tests.conftest import NO_SEAL_A_CARD, SEAL_A_CARD, SEAL_B_CARD, sign_in_card
from tests.staff_support import INSURER_B, actor, insurer, ready_and_refused, submit
from tests.test_grants import make_grant

ON = date(2026, 11, 3)


def test_inbox_lists_status_changes_pickup_and_refusal_with_reason(seal_client, session):
    ready, refused = ready_and_refused(session, ON)
    page = html.unescape(seal_client.get("/inbox/").get_data(as_text=True))
    assert "Təhvil almağa hazırdır" in page and "1 saylı Bakı DOST Mərkəzi tərəfindən təhvil" in page
    assert "İmtina əsası: Hüquqi əsası yoxdur." in page and "Şəxs bu sığortaedənin işçisi deyil" in page
    assert ready.registration_number in page and refused.registration_number in page
    assert "status «Yoxlanılıb»" in page and "status «Şəhadətnamə sifariş edilib»" in page


def test_unread_count_in_the_header_and_marking_read(seal_client, session):
    ready_and_refused(session, ON)
    page = seal_client.get("/insurer").get_data(as_text=True)
    assert 'id="inbox-badge"' in page and 'class="inbox-badge__count">4<' in page
    first = session.scalar(select(Notification).order_by(Notification.id))
    response = seal_client.post(f"/inbox/{first.id}/read")
    assert response.status_code == 302
    assert 'class="inbox-badge__count">3<' in seal_client.get("/insurer").get_data(as_text=True)
    # Marking it again changes nothing.
    assert seal_client.post(f"/inbox/{first.id}/read").status_code == 302
    response = seal_client.post("/inbox/read-all", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and fragment.lstrip().startswith('<div id="inbox-list"')
    assert 'hx-swap-oob="true"' in fragment and "inbox-badge__count" not in fragment
    assert "showToast" in response.headers["HX-Trigger"]
    assert "inbox-badge__count" not in seal_client.get("/insurer").get_data(as_text=True)


def test_unread_filter(seal_client, session):
    ready_and_refused(session, ON)
    seal_client.post("/inbox/read-all")
    page = seal_client.get("/inbox/?unread=1").get_data(as_text=True)
    assert "Bildiriş yoxdur." in page


def test_another_insurers_message_is_not_found(client, session):
    ready_and_refused(session, ON)
    sign_in_card(client, SEAL_B_CARD)
    assert "Bildiriş yoxdur." in client.get("/inbox/").get_data(as_text=True)
    first = session.scalar(select(Notification).order_by(Notification.id))
    assert client.post(f"/inbox/{first.id}/read").status_code == 404
    other = Actor(kind="employer", label="x", insurer_id=insurer(session, INSURER_B).id)
    with pytest.raises(NotFound):
        notifications.mark_read(session, other, first.id)


def test_inbox_requires_an_employer(client):
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/sign-in" in response.location


def test_no_inbox_message_for_a_walk_in_without_employer(session):
    application = submit(session, voen=None, centre_code="BAK1")
    processing.verify(session, actor(session, "agent.bak1"), application.id, 1, ON)
    assert session.scalar(select(Notification).where(Notification.application_id == application.id)) is None


def test_a_delegate_for_another_service_sees_neither_the_inbox_nor_its_badge(app, client, session):
    ready_and_refused(session, ON)
    assert sign_in_card(app.test_client(), SEAL_A_CARD).status_code == 302  # activates insurer A
    make_grant(session, service=ServiceCode.REPORTS)
    assert sign_in_card(client, NO_SEAL_A_CARD).status_code == 302
    assert client.get("/inbox/").status_code == 403
    assert client.post("/inbox/read-all").status_code == 403
    assert 'id="inbox-badge"' not in client.get("/insurer").get_data(as_text=True)
    assert session.scalar(select(Notification).where(Notification.read_at.is_not(None))) is None
