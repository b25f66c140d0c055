"""Faults at commit: the database fails exactly when a confirm, a grant, a staff step, a walk-in registration or a
sign-in is being committed. The user gets the clear 503 page, nothing of the half-done operation remains (no
application, notice, grant, status change, audit event; the audit chain still verifies), and the very next request
of the same browser works: the app recovers without a restart."""

from __future__ import annotations

import html
from contextlib import contextmanager

from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from dost.extensions import db
from dost.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    AuditEvent,
    Grant,
    Notice,
    Notification,
)
from dost.services import applications, audit
from dost.timeutil import today
from tests.conftest import sign_in_card
from tests.staff_support import employees, sign_in_staff, submit
from tests.test_grants import SEAL_A, actor_for
from tests.test_signing import demo_person

DATABASE_DOWN = "Verilənlər bazası müvəqqəti olaraq cavab vermir"
MODELS = (Application, Notice, Grant, ApplicationStatusChange, AuditEvent, Notification)


@contextmanager
def failing_commit(app, times: int = 1):
    """The next `times` COMMITs on the app's database fail the way a dropped connection does."""
    state = {"left": times, "failed": 0}

    def fail(connection):
        if state["left"] > 0:
            state["left"] -= 1
            state["failed"] += 1
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", fail)
    try:
        yield state
    finally:
        event.remove(engine, "commit", fail)


def counts(session) -> dict[str, int]:
    session.expire_all()
    return {model.__name__: session.scalar(select(func.count()).select_from(model)) for model in MODELS}


def assert_503_page(response, htmx: bool = False) -> None:
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0  # 30, or the rate limiter's window on sign-in routes
    text = html.unescape(response.get_data(as_text=True))
    assert DATABASE_DOWN in text and "Traceback" not in text
    if htmx:
        assert response.headers["HX-Retarget"] == "#flash-region" and "<html" not in text
    else:
        assert "<html" in text


def assert_chain_intact(session) -> None:
    report = audit.verify_chain(session)
    assert report.ok, report


def _identity(session, index: int):
    person, certificate, _ = demo_person(session, index=index)
    return {"document_type": person.document_type.value, "fin": person.fin, "ssn": certificate.ssn}


def test_a_new_application_confirmed_at_a_failing_commit_leaves_nothing_and_the_retry_works(app, seal_client,
                                                                                             session):
    form = {**_identity(session, 0), "step": "sign", "action": "sign", "reason": "lost", "pin": "1111",
            "application_id": "", "submission_key": "f" * 43}
    before = counts(session)
    with failing_commit(app) as state:
        response = seal_client.post("/ssh/wizard", data=form)
    assert state["failed"] == 1
    assert_503_page(response)
    assert counts(session) == before
    assert_chain_intact(session)
    # The same browser, the same form (the user presses Təsdiqlə again): confirmed once.
    retry = seal_client.post("/ssh/wizard", data=form)
    assert retry.status_code == 302 and "/ssh/" in retry.headers["Location"]
    after = counts(session)
    assert (after["Application"], after["Notice"]) == (before["Application"] + 1, before["Notice"] + 1)
    assert seal_client.post("/ssh/wizard", data=form).headers["Location"] == retry.headers["Location"]
    assert counts(session)["Notice"] == after["Notice"]
    assert_chain_intact(session)


def test_a_draft_confirmed_at_a_failing_commit_stays_a_draft(app, seal_client, session):
    actor = actor_for(session, SEAL_A)
    identity = _identity(session, 1)
    draft = applications.save_draft(session, actor, applications.IdentityInput(**identity), "damaged", today())
    session.commit()
    draft_id, version = draft.id, draft.version
    form = {**identity, "step": "sign", "action": "sign", "reason": "damaged", "pin": "1111",
            "application_id": str(draft_id), "submission_key": "d" * 43}
    before = counts(session)
    with failing_commit(app) as state:
        response = seal_client.post("/ssh/wizard", data=form, headers={"HX-Request": "true"})
    assert state["failed"] == 1
    assert_503_page(response, htmx=True)
    assert counts(session) == before
    stored = session.get(Application, draft_id)
    assert (stored.status, stored.version, stored.registration_number, stored.submitted_at) == (
        ApplicationStatus.DRAFT, version, None, None)
    retry = seal_client.post("/ssh/wizard", data=form)
    assert retry.status_code == 302
    session.expire_all()
    stored = session.get(Application, draft_id)
    assert stored.status == ApplicationStatus.SUBMITTED and stored.notice is not None
    assert_chain_intact(session)


GRANT_FORM = {"step": "3", "action": "confirm", "submission": "fault-test", "service": "ssn_certificate",
              "kind": "card", "card_number": "1000000002", "fin": "6PL2M3T", "validity": "indefinite"}


def test_a_grant_confirmed_at_a_failing_commit_leaves_no_grant_and_the_retry_works(app, seal_client, session):
    before = counts(session)
    with failing_commit(app) as state:
        response = seal_client.post("/grants/wizard", data=GRANT_FORM)
    assert state["failed"] == 1
    assert_503_page(response)
    assert counts(session) == before
    retry = seal_client.post("/grants/wizard", data=GRANT_FORM)
    assert retry.status_code == 303
    assert counts(session)["Grant"] == before["Grant"] + 1
    # The delegate can use it at once: the grant really is there.
    delegate = app.test_client()
    assert sign_in_card(delegate, ("1000000002", "2222")).status_code == 302
    assert delegate.get("/ssh/").status_code == 200
    assert_chain_intact(session)


def test_a_staff_step_at_a_failing_commit_changes_nothing_and_the_retry_works(app, client, session):
    application = submit(session)
    session.commit()
    application_id = application.id
    assert sign_in_staff(client, "agent.bak1").status_code == 302
    before = counts(session)
    with failing_commit(app) as state:
        response = client.post(f"/staff/applications/{application_id}/verify", data={"version": "1"})
    assert state["failed"] == 1
    assert_503_page(response)
    assert counts(session) == before
    stored = session.get(Application, application_id)
    assert (stored.status, stored.version) == (ApplicationStatus.SUBMITTED, 1)
    retry = client.post(f"/staff/applications/{application_id}/verify", data={"version": "1"})
    assert retry.status_code == 302
    session.expire_all()
    stored = session.get(Application, application_id)
    assert (stored.status, stored.version) == (ApplicationStatus.VERIFIED, 2)
    assert counts(session)["ApplicationStatusChange"] == before["ApplicationStatusChange"] + 1
    assert_chain_intact(session)


def test_a_walk_in_registered_at_a_failing_commit_leaves_nothing(app, client, session):
    person = employees(session)[0]
    identity = _identity(session, 0)
    assert identity["fin"] == person.fin
    form = {**identity, "mode": "in_person", "reason": "lost", "voen": ""}
    assert sign_in_staff(client, "agent.bak1").status_code == 302
    before = counts(session)
    with failing_commit(app):
        assert_503_page(client.post("/staff/walk-in", data=form))
    assert counts(session) == before
    assert client.post("/staff/walk-in", data=form).status_code == 302
    assert counts(session)["Notice"] == before["Notice"] + 1
    assert_chain_intact(session)


def test_a_sign_in_at_a_failing_commit_does_not_sign_in(app, client, session):
    with failing_commit(app):
        assert_503_page(sign_in_card(client))
    assert client.get("/insurer").headers["Location"].startswith("/sign-in")
    assert sign_in_card(client).status_code == 302
    assert client.get("/insurer").status_code == 200


def test_several_failing_commits_in_a_row_then_recovery(app, seal_client, session):
    """A longer outage: every request while it lasts gets the 503 page; the first one after it works."""
    before = counts(session)
    with failing_commit(app, times=3) as state:
        for _ in range(3):
            assert_503_page(seal_client.post("/feedback", data={"contact": "a", "subject": "b", "message": "c"}))
    assert state["failed"] == 3 and counts(session) == before
    assert seal_client.post("/feedback", data={"contact": "a", "subject": "b", "message": "c"}).status_code == 302
    assert_chain_intact(session)


def test_checks_answer_503_not_500_while_the_database_is_away(app, client, session):
    from sqlalchemy.exc import OperationalError as DriverGone

    from tests.test_signing import make_notice, token_of

    notice = make_notice(session)
    token = token_of(notice)

    def gone(conn, cursor, statement, parameters, context, executemany):
        raise DriverGone(statement, parameters, Exception("connection refused"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", gone)
    try:
        assert_503_page(client.get(f"/v/{token}"))
        response = client.post("/api/v1/verify", json={"url": f"http://localhost/v/{token}"})
        assert response.status_code == 503 and response.get_json()["error"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0  # 30, or the rate limiter's window
    finally:
        event.remove(engine, "before_cursor_execute", gone)
    assert client.get(f"/v/{token}").status_code == 200
