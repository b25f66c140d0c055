"""The audit log is a hash chain; `dost audit verify` finds the first edited, inserted or deleted event."""

from sqlalchemy import select, text

from dost.models import AuditEvent
from dost.services import audit
from dost.services.actors import Actor


def _events(session, count=4):
    actor = Actor.system("test")
    for number in range(count):
        audit.record(session, actor, "test.event", "test", number, {"n": number})
    session.commit()
    return session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def test_intact_chain(runner, session):
    _events(session)
    result = runner.invoke(args=["dost", "audit", "verify"])
    assert result.exit_code == 0 and "intact" in result.output


def test_edited_event_is_found(runner, session):
    events = _events(session)
    session.execute(text("UPDATE audit_event SET changes = :c WHERE id = :id"),
                    {"c": '{"n": 99}', "id": events[1].id})
    session.commit()
    result = runner.invoke(args=["dost", "audit", "verify"])
    assert result.exit_code != 0 and f"#{events[1].id}" in result.output and "edited" in result.output


def test_deleted_event_is_found(runner, session):
    events = _events(session)
    session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": events[1].id})
    session.commit()
    result = runner.invoke(args=["dost", "audit", "verify"])
    assert result.exit_code != 0 and f"#{events[2].id}" in result.output


def test_inserted_event_is_found(runner, session):
    events = _events(session)
    forged = AuditEvent(at=events[1].at, actor_kind="system", actor_label="forger", action="test.event",
                        object_type="test", object_id=7, changes={}, prev_hash=events[1].hash)
    forged.hash = audit.event_digest(forged)
    # Splice it in: the real successor now points at a predecessor the chain does not have.
    session.execute(text("UPDATE audit_event SET prev_hash = :p WHERE id = :id"),
                    {"p": "f" * 64, "id": events[2].id})
    session.add(forged)
    session.commit()
    result = runner.invoke(args=["dost", "audit", "verify"])
    assert result.exit_code != 0 and f"#{events[2].id}" in result.output


def test_concurrent_appends_cannot_fork_the_chain(session):
    events = _events(session, 2)
    hashes = [e.prev_hash for e in events]
    assert len(set(hashes)) == len(hashes)


def test_backup_makes_a_consistent_copy(app, runner, tmp_path):
    import sqlite3

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        result = runner.invoke(args=["dost", "backup", str(tmp_path / "x.sqlite3")])
        assert result.exit_code != 0 and "pg_dump" in result.output
        return
    target = tmp_path / "backup.sqlite3"
    result = runner.invoke(args=["dost", "backup", str(target)])
    assert result.exit_code == 0, result.output
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT COUNT(*) FROM insurer").fetchone()[0] == 3
    copy.close()


def test_responses_carry_a_request_id(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abcdef123456"})
    assert response.headers["X-Request-ID"] == "abcdef123456"
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 32
