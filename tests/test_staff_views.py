"""Staff pages: the queue (filters, SLA badges, paging, bulk), an application's steps, errors and timeline."""

import html
import re
from datetime import timedelta

import pytest

from dost.models import Application, ApplicationStatus
from dost.services import processing
from dost.timeutil import today
from tests.staff_support import INSURER_B, actor, employees, insurer, sign_in_staff, submit

S = ApplicationStatus


@pytest.fixture
def agent_client(client):
    assert sign_in_staff(client, "agent.bak1").status_code == 302
    return client


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _three_deadlines(session):
    people = employees(session)
    now = today()
    overdue = submit(session, person=people[0], deadline=now - timedelta(days=1), registration_number="LATE-1")
    due = submit(session, person=people[1], deadline=now, registration_number="SOON-1")
    fine = submit(session, person=people[2], deadline=now + timedelta(days=30), registration_number="FINE-1")
    session.commit()
    return overdue, due, fine


def test_queue_shows_sla_badges_with_icon_and_text_sorted_by_deadline(agent_client, session):
    _three_deadlines(session)
    page = _page(agent_client.get("/staff/"))
    assert page.index("LATE-1") < page.index("SOON-1") < page.index("FINE-1")
    for icon, text in (("⚠", "Vaxtı keçib"), ("⏳", "1 iş günü ərzində bitir"), ("✔", "Vaxtında")):
        assert re.search(rf'<span aria-hidden="true">{icon}</span> {text}', page)
    reverse = _page(agent_client.get("/staff/?sort=-deadline"))
    assert reverse.index("FINE-1") < reverse.index("LATE-1")


@pytest.mark.parametrize("query,shown,hidden", [
    ("sla=overdue", ["LATE-1"], ["SOON-1", "FINE-1"]),
    ("sla=due_soon", ["SOON-1"], ["LATE-1", "FINE-1"]),
    ("sla=on_track", ["FINE-1"], ["LATE-1", "SOON-1"]),
    ("status=verified", [], ["LATE-1", "SOON-1", "FINE-1"]),
    ("application_type=change", [], ["LATE-1"]),
    ("application_type=duplicate&sla=bogus&status=bogus&sort=bogus&page=99", ["LATE-1", "FINE-1"], []),
])
def test_queue_filters(agent_client, session, query, shown, hidden):
    _three_deadlines(session)
    page = _page(agent_client.get(f"/staff/?{query}"))
    for number in shown:
        assert number in page
    for number in hidden:
        assert number not in page


def test_queue_insurer_filter_and_htmx_fragment(agent_client, session):
    _three_deadlines(session)
    submit(session, person=employees(session)[3], voen=None, centre_code="BAK1", registration_number="SELF-1")
    session.commit()
    assert "SELF-1" in _page(agent_client.get("/staff/"))
    response = agent_client.get(f"/staff/?insurer_id={insurer(session).id}", headers={"HX-Request": "true"})
    page = _page(response)
    assert response.status_code == 200 and page.lstrip().startswith('<div id="queue-results"')
    assert "<html" not in page and "LATE-1" in page and "SELF-1" not in page


def test_queue_pages(agent_client, session):
    for person in employees(session)[:processing.PAGE_SIZE + 3]:
        submit(session, person=person)
    session.commit()
    first = _page(agent_client.get("/staff/"))
    assert "Səhifə 1 / 2" in first and f"{processing.PAGE_SIZE + 3} nəticə" in first
    second = _page(agent_client.get("/staff/?page=2"))
    assert "Səhifə 2 / 2" in second and second.count('name="ids"') == 3


def test_application_page_shows_details_actions_and_audit_timeline(agent_client, session):
    application = submit(session)
    session.commit()
    page = _page(agent_client.get(f"/staff/applications/{application.id}"))
    assert application.registration_number in page and application.fin in page
    assert "Yoxla: məşğulluq və şəhadətnamə" in page and "İmtina et" in page
    assert "1 saylı Bakı DOST Mərkəzi" in page and "Audit jurnalı" in page
    agent_client.post(f"/staff/applications/{application.id}/verify", data={"version": "1"})
    page = _page(agent_client.get(f"/staff/applications/{application.id}"))
    assert "Məşğulluq yoxlandı" in page or "Məşğulluq yoxlanıldı" in page
    assert "Şəhadətnamə yoxlanıldı" in page and "LALƏ MƏMMƏDOVA" in page and "rol: agent" in page
    assert "Şəhadətnaməni sifariş et" in page


def test_another_centres_application_is_not_found(agent_client, session):
    other = submit(session, person=employees(session, INSURER_B)[0], voen=INSURER_B)
    session.commit()
    assert agent_client.get(f"/staff/applications/{other.id}").status_code == 404
    assert agent_client.post(f"/staff/applications/{other.id}/verify", data={"version": "1"}).status_code == 404
    assert agent_client.post(f"/staff/applications/{other.id}/refuse",
                             data={"version": "1", "ground": "no_legal_basis"}).status_code == 404
    assert agent_client.get("/staff/applications/999999").status_code == 404


def test_steps_through_the_pages_plain_and_htmx(agent_client, session):
    application = submit(session)
    session.commit()
    response = agent_client.post(f"/staff/applications/{application.id}/verify", data={"version": "1"})
    assert response.status_code == 302
    assert "Yoxlama uğurla başa çatdı" in _page(agent_client.get(response.location))
    response = agent_client.post(f"/staff/applications/{application.id}/order", data={"version": "2"},
                                 headers={"HX-Request": "true"})
    page = _page(response)
    assert response.status_code == 200 and page.lstrip().startswith('<div id="application-panel"')
    assert "showToast" in response.headers["HX-Trigger"] and "Şəhadətnamə sifariş edilib" in page
    session.expire_all()
    assert session.get(Application, application.id).status == S.ORDERED


def test_illegal_step_and_stale_version_get_clear_messages(agent_client, session):
    application = submit(session)
    session.commit()
    response = agent_client.post(f"/staff/applications/{application.id}/deliver", data={"version": "1"})
    assert response.status_code == 400 and "«Hazırdır, təhvil verilməyi gözləyir»" in _page(response)
    agent_client.post(f"/staff/applications/{application.id}/verify", data={"version": "1"})
    response = agent_client.post(f"/staff/applications/{application.id}/order", data={"version": "1"})
    assert response.status_code == 409
    assert "artıq LALƏ MƏMMƏDOVA tərəfindən dəyişdirilib" in _page(response)
    response = agent_client.post(f"/staff/applications/{application.id}/order", data={})
    assert response.status_code == 400 and "Səhifəni yeniləyin" in _page(response)


def test_a_repeated_step_lands_on_its_result_but_another_users_change_is_a_conflict(agent_client, session):
    application = submit(session)
    session.commit()
    url = f"/staff/applications/{application.id}"
    assert agent_client.post(f"{url}/verify", data={"version": "1"}).location.endswith(url)
    repeat = agent_client.post(f"{url}/verify", data={"version": "1"})
    assert repeat.status_code == 302 and repeat.location.endswith(url)
    assert "Bu addım artıq atılıb" in _page(agent_client.get(repeat.location))
    agent_client.post(f"{url}/refuse", data={"version": "2", "ground": "no_legal_basis", "comment": "səbəb"})
    again = agent_client.post(f"{url}/refuse", data={"version": "2", "ground": "no_legal_basis", "comment": "səbəb"})
    assert again.status_code == 302 and again.location.endswith(url)
    session.expire_all()
    assert session.get(Application, application.id).version == 3
    # Only the same user's own twin counts: for anyone else the old version stays a conflict.
    assert processing.taken_by_actor(session, actor(session, "agent.bak1"), application.id, 2, "refuse")
    assert not processing.taken_by_actor(session, actor(session, "supervisor.baki"), application.id, 2, "refuse")
    assert not processing.taken_by_actor(session, actor(session, "agent.bak1"), application.id, 2, "verify")


@pytest.mark.parametrize("data,field,message", [
    ({"ground": "", "comment": "səbəb"}, "ground", "İmtina əsasını seçin."),
    ({"ground": "no_legal_basis", "comment": "x" * 10_000}, "comment", "2000 simvol"),
])
def test_refusal_bad_input_is_shown_beside_the_field_and_nothing_changes(agent_client, session, data, field,
                                                                         message):
    application = submit(session)
    session.commit()
    response = agent_client.post(f"/staff/applications/{application.id}/refuse", data={"version": "1", **data})
    assert response.status_code == 400
    error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert error and message in html.unescape(error.group(1))
    session.expire_all()
    assert session.get(Application, application.id).status == S.SUBMITTED


def test_refusal_through_the_page(agent_client, session):
    application = submit(session)
    session.commit()
    response = agent_client.post(f"/staff/applications/{application.id}/refuse",
                                 data={"version": "1", "ground": "incomplete_documents", "comment": "Sənəd yoxdur"})
    assert response.status_code == 302
    page = _page(agent_client.get(response.location))
    assert "Sənədlərin natamamlığı: Sənəd yoxdur" in page and "İmtina et" not in page


def test_refusal_after_the_order_shows_the_order_cancelled(agent_client, session):
    application = submit(session)
    agent = actor(session, "agent.bak1")
    processing.verify(session, agent, application.id, 1, today())
    processing.order(session, agent, application.id, 2, today())
    session.commit()
    response = agent_client.post(f"/staff/applications/{application.id}/refuse",
                                 data={"version": "3", "ground": "no_legal_basis", "comment": ""})
    assert response.status_code == 302
    page = _page(agent_client.get(response.location))
    assert "Yeni şəhadətnamə" in page and "(Sifarişi ləğv edilib)" in page


def test_bulk_order_through_the_queue(agent_client, session):
    people = employees(session)
    verified = submit(session, person=people[0])
    processing.verify(session, actor(session, "agent.bak1"), verified.id, 1, today())
    submitted = submit(session, person=people[1])
    session.commit()
    response = agent_client.post("/staff/queue/order?status=all",
                                 data={"ids": [f"{verified.id}:2", f"{submitted.id}:1", "junk"]})
    page = _page(response)
    assert response.status_code == 200 and "Toplu sifarişin nəticəsi" in page
    assert page.count("bulk-row--ok") == 1 and page.count("bulk-row--error") == 1
    assert "«Yoxlanılıb»" in page
    response = agent_client.post("/staff/queue/order", data={})
    assert response.status_code == 400 and "Heç bir müraciət seçilməyib." in _page(response)


def test_supervisor_and_admin_only_look(client, session):
    application = submit(session)
    session.commit()
    sign_in_staff(client, "supervisor.baki")
    page = _page(client.get(f"/staff/applications/{application.id}"))
    assert "Bu mərhələdə sizin üçün addım yoxdur." in page
    assert 'name="ids"' not in _page(client.get("/staff/"))
    response = client.post(f"/staff/applications/{application.id}/verify", data={"version": "1"})
    assert response.status_code == 403


def test_staff_pages_have_no_inline_styles_or_scripts(agent_client, session):
    application = submit(session)
    session.commit()
    for url in ("/staff/", f"/staff/applications/{application.id}", "/staff/reports"):
        page = agent_client.get(url).get_data(as_text=True)
        assert " style=" not in page and "onclick" not in page
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)
