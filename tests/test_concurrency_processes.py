"""Concurrency across processes: several app processes (multiprocessing, spawn: each its own interpreter, app and
connection pool, like gunicorn workers; started once per backend) share the test database (the SQLite file, or
PostgreSQL) and, released together by a barrier, fire the same action at the same moment:
confirming one draft, submitting one grant form, taking one staff step. Exactly one effect each: one
registration and one notice; one grant; one status change. Every other process gets a clean answer (the result
already made, or a 409 "changed by someone else"), never a server error, and the audit chain stays one chain.

The browser is the same for all processes (its session cookie and CSRF token are handed to each), as when a user
double-clicks, or opens two tabs, or two workers receive the same retried request."""

from __future__ import annotations

import multiprocessing
import os
import tempfile

import pytest
from sqlalchemy import func, select

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
from tests.conftest import CSRF_META
from tests.staff_support import sign_in_staff, submit
from tests.test_grants import SEAL_A, actor_for
from tests.test_signing import demo_person

PROCESSES = 4
TIMEOUT = 120


def _serve(database_url: str, tasks, barrier, results) -> None:
    """One app process, kept for the module: for each task, wait for the others, then send the request with the
    shared browser's session cookie and CSRF token."""
    from tests.conftest import build_app

    app = build_app(database_url, tempfile.mkdtemp(prefix="dost-worker-"))
    results.put((os.getpid(), 0, "ready", ""))
    while (task := tasks.get()) is not None:
        cookie, token, method, path, data = task
        try:
            client = app.test_client()
            client.set_cookie("session", cookie)
            client.get("/healthz")  # connected before the start line
            barrier.wait(timeout=TIMEOUT)
            response = client.open(path, method=method, data=data, csrf=False, headers={"X-CSRFToken": token})
            results.put((os.getpid(), response.status_code, response.headers.get("Location", ""),
                         response.get_data(as_text=True)[:20000]))
        except Exception as error:  # reported to the test, which fails with it
            results.put((os.getpid(), -1, "", repr(error)))
    from dost.extensions import db

    with app.app_context():
        db.engine.dispose()


class Workers:
    """PROCESSES app processes (spawned once per backend: starting an interpreter is the slow part)."""

    def __init__(self, database_url: str):
        context = multiprocessing.get_context("spawn")
        self.barrier = context.Barrier(PROCESSES)
        self.results = context.Queue()
        self.tasks = [context.Queue() for _ in range(PROCESSES)]
        self.processes = [context.Process(target=_serve, args=(database_url, tasks, self.barrier, self.results))
                          for tasks in self.tasks]
        for process in self.processes:
            process.start()
        ready = [self.results.get(timeout=TIMEOUT * 2) for _ in self.processes]
        assert all(answer[2] == "ready" for answer in ready), ready

    def fire(self, client, method: str, path: str, data: dict) -> list[tuple[int, int, str, str]]:
        """The same request from every process at once; returns (pid, status, location, body) of each."""
        token = CSRF_META.search(client.get("/sign-in").get_data(as_text=True)).group(1)
        cookie = client.get_cookie("session").value  # the token is bound to this session
        for tasks in self.tasks:
            tasks.put((cookie, token, method, path, data))
        answers = [self.results.get(timeout=TIMEOUT * 2) for _ in self.tasks]
        failures = [answer for answer in answers if answer[1] < 0 or answer[1] >= 500]
        assert not failures, failures
        assert len({pid for pid, *_ in answers}) == PROCESSES
        return answers

    def stop(self) -> None:
        for tasks in self.tasks:
            tasks.put(None)
        for process in self.processes:
            process.join(timeout=TIMEOUT)
            assert process.exitcode == 0


@pytest.fixture(scope="module")
def workers(snapshot):
    uri = snapshot.app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("postgresql") or (uri.startswith("sqlite:///") and not uri.endswith(":memory:"))
    pool = Workers(uri)
    yield pool
    pool.stop()


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_concurrent_confirms_of_one_draft_give_one_registration_and_one_notice(workers, seal_client, session):
    person, certificate, _ = demo_person(session, index=0)
    identity = {"document_type": person.document_type.value, "fin": person.fin, "ssn": certificate.ssn}
    draft = applications.save_draft(session, actor_for(session, SEAL_A), applications.IdentityInput(**identity),
                                    "lost", today())
    session.commit()
    draft_id = draft.id
    form = {**identity, "step": "sign", "action": "sign", "reason": "lost", "pin": "1111",
            "application_id": str(draft_id), "submission_key": "p" * 43}
    answers = workers.fire(seal_client, "POST", "/ssh/wizard", form)
    session.expire_all()
    stored = session.get(Application, draft_id)
    assert stored.status == ApplicationStatus.SUBMITTED and stored.registration_number
    assert count(session, Notice, Notice.application_id == draft_id) == 1
    assert count(session, ApplicationStatusChange, ApplicationStatusChange.application_id == draft_id,
                 ApplicationStatusChange.status == ApplicationStatus.SUBMITTED) == 1
    assert count(session, AuditEvent, AuditEvent.action == "application.confirmed",
                 AuditEvent.object_id == draft_id) == 1
    # Every duplicate lands on the confirmed application, as a later repeat does.
    detail = f"/ssh/{draft_id}"
    assert all(status == 302 and location.endswith(detail) for _, status, location, _ in answers), answers
    assert audit.verify_chain(session).ok


def test_concurrent_signings_of_one_wizard_form_land_on_one_application(workers, seal_client, session):
    person, certificate, _ = demo_person(session, index=1)
    form = {"document_type": person.document_type.value, "fin": person.fin, "ssn": certificate.ssn,
            "step": "sign", "action": "sign", "reason": "lost", "pin": "1111", "application_id": "",
            "submission_key": "n" * 43}
    answers = workers.fire(seal_client, "POST", "/ssh/wizard", form)
    session.expire_all()
    created = session.scalars(select(Application).where(Application.person_id == person.id)).all()
    assert len(created) == 1 and created[0].status == ApplicationStatus.SUBMITTED
    assert count(session, Notice, Notice.application_id == created[0].id) == 1
    detail = f"/ssh/{created[0].id}"
    assert all(status == 302 and location.endswith(detail) for _, status, location, _ in answers), answers


def test_concurrent_submissions_of_one_grant_form_give_one_grant(workers, seal_client, session):
    form = {"step": "3", "action": "confirm", "submission": "same-form-twice", "service": "ssn_certificate",
            "kind": "card", "card_number": "1000000002", "fin": "6PL2M3T", "validity": "indefinite"}
    before = count(session, Grant)
    answers = workers.fire(seal_client, "POST", "/grants/wizard", form)
    session.expire_all()
    assert count(session, Grant) == before + 1
    assert count(session, AuditEvent, AuditEvent.action == "grant.created") == 1
    # A repeat of the same form finds the grant it made: every process reports success.
    assert {status for _, status, _, _ in answers} == {303}
    assert audit.verify_chain(session).ok


def test_concurrent_staff_steps_on_one_application_give_one_status_change(workers, client, session):
    application = submit(session)
    session.commit()
    application_id = application.id
    assert sign_in_staff(client, "agent.bak1").status_code == 302
    answers = workers.fire(client, "POST", f"/staff/applications/{application_id}/verify", {"version": "1"})
    session.expire_all()
    stored = session.get(Application, application_id)
    assert (stored.status, stored.version) == (ApplicationStatus.VERIFIED, 2)
    assert count(session, ApplicationStatusChange, ApplicationStatusChange.application_id == application_id,
                 ApplicationStatusChange.status == ApplicationStatus.VERIFIED) == 1
    assert count(session, AuditEvent, AuditEvent.action == "application.verified",
                 AuditEvent.object_id == application_id) == 1
    assert count(session, Notification, Notification.application_id == application_id) == 1
    # The same user's twins all land on the application with its result, none on a conflict.
    detail = f"/staff/applications/{application_id}"
    assert all(status == 302 and location.endswith(detail) for _, status, location, _ in answers), answers
    assert audit.verify_chain(session).ok
