"""Manual, regulation, feedback, language choice, health checks and the generic error pages."""

import html

from sqlalchemy import select

from dost.models import Feedback


def test_manual_and_regulation_are_real_pages(client):
    manual = html.unescape(client.get("/manual").get_data(as_text=True))
    regulation = html.unescape(client.get("/regulation").get_data(as_text=True))
    assert "Səlahiyyətlərin verilməsi" in manual and "REYESTR" in manual
    assert "01-08-02-00" in regulation and "Hüquqi əsası yoxdur" in regulation


def test_feedback_is_stored_and_validated(seal_client, session):
    empty = seal_client.post("/feedback", data={"contact": "", "subject": "", "message": ""})
    assert empty.status_code == 400 and "Əlaqə məlumatını daxil edin." in empty.get_data(as_text=True)
    too_long = seal_client.post("/feedback", data={"contact": "a@b.az", "subject": "x", "message": "y" * 10_000})
    assert too_long.status_code == 400 and "Ən çox 5000 simvol" in too_long.get_data(as_text=True)
    sent = seal_client.post("/feedback", data={"contact": "a@b.az", "subject": "Sual", "message": "<b>Salam</b>"})
    assert sent.status_code == 302
    stored = session.scalar(select(Feedback))
    assert stored.message == "<b>Salam</b>" and stored.insurer_id is not None
    htmx = seal_client.post("/feedback", data={"contact": "a@b.az", "subject": "İkinci", "message": "Mətn"},
                            headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "showToast" in htmx.headers["HX-Trigger"]


def test_feedback_requires_sign_in(client):
    assert client.get("/feedback").status_code == 302


def test_language_choice_is_remembered(client):
    response = client.post("/language", data={"locale": "en", "next": "/sign-in"})
    assert response.status_code == 302 and response.location.endswith("/sign-in")
    assert 'lang="en"' in client.get("/sign-in").get_data(as_text=True)
    assert client.post("/language", data={"locale": "xx"}).status_code == 400
    # Only same-site targets: no open redirect.
    evil = client.post("/language", data={"locale": "az", "next": "//evil.example/"})
    assert "evil" not in evil.location


def test_health_checks(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_oversized_body_gets_a_clear_413(client):
    response = client.post("/staff/sign-in", data={"username": "1" * (6 * 1024 * 1024), "password": "1"})
    assert response.status_code == 413
    assert "çox böyükdür" in response.get_data(as_text=True)


def test_method_not_allowed_uses_layout(client):
    response = client.get("/sign-out")
    assert response.status_code == 405 and 'lang="az"' in response.get_data(as_text=True)


def test_database_down_gives_the_503_page_to_signed_in_users(app, seal_client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from dost import auth

    def dead_database(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    # The principal is rebuilt from the database on every request: the outage hits it first.
    monkeypatch.setattr(auth, "_employer", dead_database)
    response = seal_client.get("/insurer")
    assert response.status_code == 503
    assert "müvəqqəti" in response.get_data(as_text=True) and response.headers["Retry-After"]
    monkeypatch.undo()
    assert seal_client.get("/insurer").status_code == 200
