"""The passport's processing steps on applications: transitions, scopes, refusals, concurrency, bulk order."""

import threading
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dost.extensions import db
from dost.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    AuditEvent,
    Certificate,
    CertificateStatus,
    Notification,
)
from dost.services import applications, audit, processing
from dost.services.errors import Conflict, DomainError, Forbidden, NotFound
from tests.staff_support import INSURER_B, actor, employees, submit

ON = date(2026, 11, 3)
S = ApplicationStatus


def _through(session, application, *steps, username="agent.bak1"):
    """Run steps with the right staff user each; returns the application."""
    agent, office = actor(session, username), actor(session, "backoffice.dsmf")
    for step in steps:
        version = application.version
        if step == "verify":
            assert processing.verify(session, agent, application.id, version, ON).passed
        elif step == "order":
            processing.order(session, agent, application.id, version, ON)
        elif step == "ready":
            processing.mark_ready(session, office, application.id, version)
        elif step == "deliver":
            processing.deliver(session, agent, application.id, version)
    return application


def test_the_whole_passport_from_submitted_to_delivered(session):
    application = submit(session)
    old_certificate_id = application.certificate_id
    _through(session, application, "verify", "order", "ready", "deliver")
    assert application.status == S.DELIVERED and application.version == 5
    assert application.completed_at is not None and application.open_key is None
    old = session.get(Certificate, old_certificate_id)
    new = session.get(Certificate, application.new_certificate_id)
    assert old.status == CertificateStatus.REPLACED and old.replaced_by_id == new.id
    assert new.status == CertificateStatus.ACTIVE and new.ssn == old.ssn
    history = [change.status for change in application.status_changes]
    assert history == [S.SUBMITTED, S.VERIFIED, S.ORDERED, S.READY, S.DELIVERED]
    actions = [event.action for event in audit.events_for(session, "application", application.id)]
    assert actions == ["application.employment_checked", "application.certificate_checked", "application.verified",
                       "application.ordered", "application.ready", "application.delivered"]
    events = audit.events_for(session, "application", application.id)
    assert {event.actor_label for event in events} == {"LALƏ MƏMMƏDOVA", "NƏRMİN ƏSGƏROVA"}
    kinds = list(session.scalars(select(Notification.kind).where(Notification.application_id == application.id)
                                 .order_by(Notification.id)))
    assert kinds == ["status_changed", "status_changed", "ready_for_pickup", "status_changed"]
    assert audit.verify_chain(session).ok


def test_a_failed_employment_check_is_recorded_and_changes_nothing(session):
    person = employees(session, employed=False)[0]
    application = submit(session, person=person)
    outcome = processing.verify(session, actor(session, "agent.bak1"), application.id, 1, ON)
    assert not outcome.passed and outcome.employment == "not_employed" and outcome.certificate == "active"
    assert application.status == S.SUBMITTED and application.version == 1
    checked = [e.action for e in audit.events_for(session, "application", application.id)]
    assert checked == ["application.employment_checked", "application.certificate_checked"]


def test_a_superseded_certificate_fails_the_monitoring_check(session):
    application = submit(session)
    certificate = session.get(Certificate, application.certificate_id)
    certificate.status = CertificateStatus.REPLACED
    session.flush()
    outcome = processing.verify(session, actor(session, "agent.bak1"), application.id, 1, ON)
    assert outcome.certificate == "missing" and not outcome.passed


@pytest.mark.parametrize("steps,action,message", [
    ((), "deliver", "«Hazırdır, təhvil verilməyi gözləyir»"),
    (("verify",), "deliver", "«Hazırdır, təhvil verilməyi gözləyir»"),
    ((), "order", "«Yoxlanılıb»"),
    (("verify", "order", "ready", "deliver"), "refuse", "Təhvil verilib"),
])
def test_illegal_transitions_are_refused_by_the_service(session, steps, action, message):
    application = _through(session, submit(session), *steps)
    version, agent = application.version, actor(session, "agent.bak1")
    with pytest.raises(DomainError) as caught:
        if action == "deliver":
            processing.deliver(session, agent, application.id, version)
        elif action == "order":
            processing.order(session, agent, application.id, version, ON)
        else:
            processing.refuse(session, agent, application.id, version, "no_legal_basis", "")
    assert caught.value.code == "illegal_transition" and message in str(caught.value.message)
    assert application.version == version


def test_roles_take_only_their_steps(session):
    application = _through(session, submit(session), "verify", "order")
    with pytest.raises(Forbidden):
        processing.mark_ready(session, actor(session, "agent.bak1"), application.id, application.version)
    with pytest.raises(NotFound):
        # The back office does not even see applications before they are ordered.
        processing.verify(session, actor(session, "backoffice.dsmf"), submit(session).id, 1, ON)
    with pytest.raises(Forbidden):
        processing.order(session, actor(session, "supervisor.baki"), submit(session, person=employees(session)[1]).id,
                         1, ON)


def test_scopes_agent_centre_supervisor_region_back_office_stage(session):
    online_a = submit(session)  # insurer A: office 188 → BAK1
    online_b = submit(session, person=employees(session, INSURER_B)[0], voen=INSURER_B)  # office 101 → SUM
    walk_in_sum = submit(session, person=employees(session)[1], voen=None, centre_code="SUM")
    walk_in_bak2 = submit(session, person=employees(session)[2], voen=None, centre_code="BAK2")

    def visible(username):
        user_actor = actor(session, username)
        result = set()
        for item in (online_a, online_b, walk_in_sum, walk_in_bak2):
            try:
                processing.get_visible(session, user_actor, item.id)
            except NotFound:
                continue
            result.add(item.id)
        return result

    assert visible("agent.bak1") == {online_a.id}
    assert visible("agent.sum") == {online_b.id, walk_in_sum.id}
    assert visible("supervisor.baki") == {online_a.id, walk_in_bak2.id}
    assert visible("admin") == {online_a.id, online_b.id, walk_in_sum.id, walk_in_bak2.id}
    assert visible("backoffice.dsmf") == set()
    _through(session, online_b, "verify", "order", username="agent.sum")
    assert visible("backoffice.dsmf") == {online_b.id}
    assert processing.centre_of(session, online_a).code == "BAK1"


def test_refusal_needs_a_ground_and_a_comment_of_at_most_2000_characters(session):
    application = submit(session)
    agent = actor(session, "agent.bak1")
    for ground, comment, field in [(None, "", "ground"), ("", "x", "ground"), ("bogus", "x", "ground"),
                                   ("no_legal_basis", "x" * 10_000, "comment"),
                                   ("no_legal_basis", "x" * 2001, "comment")]:
        with pytest.raises(DomainError) as caught:
            processing.refuse(session, agent, application.id, 1, ground, comment)
        assert caught.value.field == field
    assert application.status == S.SUBMITTED and application.version == 1
    processing.refuse(session, agent, application.id, 1, "incomplete_documents", "x" * 2000)
    assert application.status == S.REFUSED and application.refusal_ground.value == "incomplete_documents"
    assert application.open_key is None and application.completed_at is not None
    message = session.scalar(select(Notification.message).where(Notification.kind == "refused"))
    assert "Sənədlərin natamamlığı" in message and "Şərh:" in message


def test_the_back_office_may_refuse_an_ordered_application(session):
    application = _through(session, submit(session), "verify", "order")
    ordered = session.get(Certificate, application.new_certificate_id)
    processing.refuse(session, actor(session, "backoffice.dsmf"), application.id, application.version,
                      "no_legal_basis", "Arxa ofis: hüquqi əsas yoxdur")
    assert application.status == S.REFUSED
    # The order is cancelled: the person's certificate stays the one in force, and a new application can use it.
    assert ordered.status == CertificateStatus.CANCELLED
    assert session.get(Certificate, application.certificate_id).status == CertificateStatus.ACTIVE
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "application.refused")).one()
    assert event.changes["cancelled_certificate_id"] == ordered.id
    lookup = applications.validate_person(
        session, application.insurer_id,
        applications.IdentityInput(application.document_type.value, application.fin, application.ssn), ON)
    assert lookup.certificate.certificate_id == application.certificate_id


def test_a_stale_version_names_who_changed_the_application(session):
    application = _through(session, submit(session), "verify")
    with pytest.raises(Conflict) as caught:
        processing.order(session, actor(session, "agent.bak1"), application.id, 1, ON)
    assert "LALƏ MƏMMƏDOVA tərəfindən dəyişdirilib" in str(caught.value.message)


def test_two_sessions_order_the_same_application_one_wins(app):
    with app.app_context():
        application = _through(db.session, submit(db.session), "verify")
        application_id, version = application.id, application.version
        db.session.commit()
        first, second = Session(db.engine), Session(db.engine)
        try:
            agent_one, agent_two = actor(first, "agent.bak1"), actor(second, "agent.bak1")
            # Both staff have the page open at the same version.
            assert first.get(Application, application_id).version == second.get(Application, application_id).version
            processing.order(first, agent_one, application_id, version, ON)
            first.commit()
            with pytest.raises(Conflict) as caught:
                processing.order(second, agent_two, application_id, version, ON)
            second.rollback()
            assert "artıq LALƏ MƏMMƏDOVA tərəfindən dəyişdirilib" in str(caught.value.message)
        finally:
            first.close()
            second.close()
        db.session.expire_all()
        orders = db.session.scalar(select(func.count()).select_from(ApplicationStatusChange).where(
            ApplicationStatusChange.application_id == application_id, ApplicationStatusChange.status == S.ORDERED))
        ordered_certificates = db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.status == CertificateStatus.ORDERED))
        assert orders == 1 and ordered_certificates == 1
        assert db.session.get(Application, application_id).version == version + 1


def test_a_transition_waiting_on_an_uncommitted_one_gets_a_conflict(app):
    """The second writer blocks on the first one's row (PostgreSQL) or database lock (SQLite), then loses."""
    with app.app_context():
        application = _through(db.session, submit(db.session), "verify")
        application_id, version = application.id, application.version
        db.session.commit()
        outcome: dict[str, object] = {}

        def second_agent():
            with app.app_context(), Session(db.engine) as second:
                try:
                    processing.order(second, actor(second, "agent.bak1"), application_id, version, ON)
                    second.commit()
                    outcome["result"] = "ordered"
                except Conflict as error:
                    second.rollback()
                    outcome["result"] = str(error.message)

        with Session(db.engine) as first:
            processing.order(first, actor(first, "agent.bak1"), application_id, version, ON)
            thread = threading.Thread(target=second_agent)
            thread.start()
            thread.join(timeout=0.5)  # the second writer is waiting for the first one's lock
            first.commit()
        thread.join()
        assert "artıq LALƏ MƏMMƏDOVA tərəfindən dəyişdirilib" in str(outcome["result"])


def test_bulk_order_gives_a_result_per_row_and_leaves_failed_rows_untouched(session):
    people = employees(session)
    verified = [_through(session, submit(session, person=person), "verify") for person in people[:2]]
    submitted = submit(session, person=people[2])
    elsewhere = _through(session, submit(session, person=employees(session, INSURER_B)[0], voen=INSURER_B),
                         "verify", username="agent.sum")
    items = [(item.id, item.version) for item in (*verified, submitted, elsewhere)] + [(verified[0].id, 2)]
    rows = processing.bulk_order(session, actor(session, "agent.bak1"), items, ON)
    assert [row.ok for row in rows] == [True, True, False, False]
    assert "«Yoxlanılıb»" in rows[2].message and rows[3].message == "Müraciət tapılmadı."
    assert rows[3].label == f"#{elsewhere.id}"
    assert [item.status for item in verified] == [S.ORDERED, S.ORDERED]
    assert submitted.status == S.SUBMITTED and submitted.version == 1 and elsewhere.status == S.VERIFIED


def test_bulk_order_without_a_selection_is_refused(session):
    with pytest.raises(DomainError) as caught:
        processing.bulk_order(session, actor(session, "agent.bak1"), [], ON)
    assert caught.value.code == "empty"
    with pytest.raises(DomainError) as caught:
        processing.bulk_order(session, actor(session, "agent.bak1"), [(n, 1) for n in range(1, 102)], ON)
    assert caught.value.code == "too_many"


def test_events_of_checks_record_who_and_when(session):
    application = submit(session)
    processing.verify(session, actor(session, "agent.bak1"), application.id, 1, ON)
    events = session.scalars(select(AuditEvent).where(AuditEvent.object_id == application.id,
                                                      AuditEvent.object_type == "application")).all()
    employment = next(e for e in events if e.action == "application.employment_checked")
    assert employment.actor_label == "LALƏ MƏMMƏDOVA" and employment.role == "agent" and employment.at is not None
    assert employment.changes["registry"] == "Əmək müqaviləsi bildirişi" and employment.changes["result"] == "employed"
