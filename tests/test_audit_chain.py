"""The audit log is a keyed hash chain anchored by signed checkpoints kept outside the database: `dost audit verify`
finds the first edited, inserted, deleted or recomputed event, and truncation of the newest events."""

import hashlib
import json
import os
import stat

import pytest
from sqlalchemy import func, select, text

from dost import config
from dost.audit_log import checkpointer
from dost.models import AuditEvent
from dost.services import audit, audit_checkpoints
from dost.services.actors import Actor
from tests.conftest import build_app


def _events(session, count=4):
    actor = Actor.system("test")
    for number in range(count):
        audit.record(session, actor, "test.event", "test", number, {"n": number})
    session.commit()
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    session.expunge_all()  # their values stay readable after the rows are changed or deleted
    return events


def _verify(runner, *args):
    return runner.invoke(args=["dost", "audit", "verify", *args])


def _checkpoint(app, runner):
    """Checkpoint the head through the cron command; returns the newest checkpoint in the file."""
    result = runner.invoke(args=["dost", "audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return audit_checkpoints.newest(app.config["AUDIT_CHECKPOINT_FILE"], checkpointer(app).key)


def _lines(app):
    path = app.config["AUDIT_CHECKPOINT_FILE"]
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return handle.read().splitlines()


def _sha256(event, prev):
    """What someone with database access but without the key computes: plain SHA-256 of the event's content."""
    content = {"prev": prev, "at": audit.as_utc(event.at).isoformat(), "actor_kind": event.actor_kind,
               "actor_label": event.actor_label, "credential_id": event.credential_id,
               "staff_user_id": event.staff_user_id, "role": event.role, "authority": event.authority,
               "insurer_id": event.insurer_id, "action": event.action, "object_type": event.object_type,
               "object_id": event.object_id, "changes": event.changes}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _recompute_unkeyed(session, start_id=0):
    """Rehash the chain from start_id on with plain SHA-256, as before the audit key (or as a forger would)."""
    session.expire_all()
    prev = audit.GENESIS_HASH
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all():
        if event.id >= start_id:
            digest = _sha256(event, prev)
            session.execute(text("UPDATE audit_event SET prev_hash = :p, hash = :h WHERE id = :id"),
                            {"p": prev, "h": digest, "id": event.id})
            prev = digest
        else:
            prev = event.hash
    session.commit()


def test_intact_chain(app, runner, session):
    events = _events(session)
    _checkpoint(app, runner)
    result = _verify(runner)
    assert result.exit_code == 0 and "intact" in result.output, result.output
    assert "4 events" in result.output and f"event #{events[-1].id} (4 events)" in result.output


def test_event_hashes_are_keyed(app, session):
    events = _events(session, 1)
    key = checkpointer(app).key
    assert events[0].hash == audit.event_digest(events[0], key) != _sha256(events[0], events[0].prev_hash)
    assert audit.event_digest(events[0], audit.AuditKey("another-key-0123456789abcdef0123456789")) != events[0].hash


def test_edited_event_is_found(runner, session):
    events = _events(session)
    session.execute(text("UPDATE audit_event SET changes = :c WHERE id = :id"),
                    {"c": '{"n": 99}', "id": events[1].id})
    session.commit()
    result = _verify(runner)
    assert result.exit_code != 0 and f"#{events[1].id}" in result.output and "edited" in result.output


def test_deleted_event_is_found(app, runner, session):
    _events(session, 2)
    _checkpoint(app, runner)  # names the event that is deleted below
    events = _events(session, 2)
    _checkpoint(app, runner)
    session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": events[1].id})
    session.commit()
    result = _verify(runner)
    assert result.exit_code != 0 and "deleted" in result.output and "1 problem(s)" in result.output, result.output
    assert f"first affected event: #{events[2].id}" in result.output and f"missing: #{events[1].id})" in result.output


def test_inserted_event_is_found(app, runner, session):
    events = _events(session)
    forged = AuditEvent(at=events[1].at, actor_kind="system", actor_label="forger", action="test.event",
                        object_type="test", object_id=7, changes={}, prev_hash=events[1].hash)
    forged.hash = audit.event_digest(forged, checkpointer(app).key)
    # Splice it in: the real successor now points at a predecessor the chain does not have.
    session.execute(text("UPDATE audit_event SET prev_hash = :p WHERE id = :id"),
                    {"p": "f" * 64, "id": events[2].id})
    session.add(forged)
    session.commit()
    result = _verify(runner)
    assert result.exit_code != 0 and f"#{events[2].id}" in result.output


def test_truncation_of_the_newest_events_is_found(app, runner, session):
    events = _events(session, 5)
    assert _checkpoint(app, runner).event_id == events[-1].id
    session.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": events[3].id})
    session.commit()
    result = _verify(runner)
    assert result.exit_code != 0 and "truncated" in result.output, result.output
    assert f"first affected event: #{events[3].id}." in result.output
    assert "2 events missing" in result.output


def test_truncating_everything_is_found(app, runner, session):
    events = _events(session, 2)
    _checkpoint(app, runner)
    session.execute(text("DELETE FROM audit_event"))
    session.commit()
    result = _verify(runner)
    assert result.exit_code != 0 and f"first affected event: #{events[0].id}." in result.output, result.output


def test_truncation_followed_by_new_events_is_found(app, runner, session):
    events = _events(session, 5)
    _checkpoint(app, runner)
    session.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": events[3].id})
    session.commit()
    _events(session, 3)  # the app goes on appending; SQLite even reuses the deleted ids
    result = _verify(runner)
    assert result.exit_code != 0 and "deleted" in result.output, result.output
    assert f"first affected event: #{events[3].id}." in result.output


def test_recomputing_every_hash_with_plain_sha256_is_found(app, runner, session):
    events = _events(session, 5)
    _checkpoint(app, runner)
    session.execute(text("UPDATE audit_event SET changes = :c WHERE id = :id"), {"c": '{"n": 99}', "id": events[2].id})
    _recompute_unkeyed(session)
    result = _verify(runner)
    assert result.exit_code != 0 and "recomputed" in result.output, result.output
    assert f"first affected event: #{events[0].id}." in result.output
    assert "Content changed" in result.output  # the content no longer leads to the checkpointed head


def test_recomputing_from_the_edited_event_on_is_found(runner, session):
    events = _events(session, 5)
    session.execute(text("UPDATE audit_event SET changes = :c WHERE id = :id"), {"c": '{"n": 99}', "id": events[2].id})
    _recompute_unkeyed(session, start_id=events[2].id)
    result = _verify(runner)
    assert result.exit_code != 0 and "recomputed" in result.output, result.output
    assert f"first affected event: #{events[2].id}." in result.output


def test_a_forged_checkpoint_line_is_not_trusted(app, runner, session):
    events = _events(session, 3)
    _checkpoint(app, runner)
    path = app.config["AUDIT_CHECKPOINT_FILE"]
    lines = _lines(app)
    body = json.loads(lines[-1])
    # Someone hides deleted events by rewriting the checkpoint to an older head.
    body.update(event_id=events[1].id, hash=events[1].hash, count=body["count"] - 1)
    with open(path, "w") as handle:
        handle.write("\n".join([*lines[:-1], json.dumps(body)]) + "\n")
    session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": events[2].id})
    session.commit()
    result = _verify(runner)
    assert result.exit_code != 0 and "forged or edited" in result.output, result.output
    assert f"line {len(lines)} of {path}" in result.output


def test_a_checkpoint_signed_with_another_key_is_not_trusted(app, runner, session):
    events = _events(session, 2)
    other = audit.AuditKey("another-key-0123456789abcdef0123456789")
    forged = audit.Checkpoint(events[0].id, events[0].hash, 1, audit.utcnow())
    audit_checkpoints.append(app.config["AUDIT_CHECKPOINT_FILE"], audit_checkpoints.format_line(forged, other))
    with open(app.config["AUDIT_CHECKPOINT_FILE"], "a") as handle:
        handle.write("not a checkpoint\n")
    result = _verify(runner)
    assert result.exit_code != 0 and "another key" in result.output and "not a JSON line" in result.output


def test_an_older_checkpoint_file_swapped_in_is_caught_by_the_log_copy(app, runner, session, tmp_path):
    path = app.config["AUDIT_CHECKPOINT_FILE"]
    _events(session, 3)
    _checkpoint(app, runner)
    older = _lines(app)
    events = _events(session, 2)
    _checkpoint(app, runner)
    # The app log holds every checkpoint line too, among its other records.
    log = tmp_path / "app.log"
    records = [{"time": "t", "level": "INFO", "logger": "dost.access", "message": "request"}]
    records += [{"time": "t", "level": "INFO", "logger": "dost.audit", "message": f"audit checkpoint {line}"}
                for line in _lines(app)]
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    session.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": events[-2].id})
    session.commit()
    with open(path, "w") as handle:
        handle.write("\n".join(older) + "\n")
    assert _verify(runner).exit_code == 0  # the file alone cannot show that it was swapped for an older one
    result = _verify(runner, "--checkpoints", path, "--checkpoints", str(log))
    assert result.exit_code != 0 and f"first affected event: #{events[-2].id}." in result.output, result.output


def test_a_chain_without_checkpoints_is_not_reported_intact(app, runner, session):
    _events(session, 2)
    os.remove(app.config["AUDIT_CHECKPOINT_FILE"]) if os.path.exists(app.config["AUDIT_CHECKPOINT_FILE"]) else None
    result = _verify(runner)
    assert result.exit_code != 0 and "No valid signed checkpoint" in result.output and "does not exist" in result.output


def test_the_checkpoint_command_writes_a_signed_line_once_per_head(app, runner, session):
    events = _events(session, 2)
    before = len(_lines(app))
    checkpoint = _checkpoint(app, runner)
    assert (checkpoint.event_id, checkpoint.hash, checkpoint.count) == (events[-1].id, events[-1].hash, 2)
    assert runner.invoke(args=["dost", "audit", "checkpoint"]).output.startswith("No checkpoint written")
    assert runner.invoke(args=["dost", "audit", "checkpoint", "--force"]).exit_code == 0
    lines = _lines(app)
    assert len(lines) in (before + 1, before + 2)  # a commit may have checkpointed the same head already
    assert stat.S_IMODE(os.stat(app.config["AUDIT_CHECKPOINT_FILE"]).st_mode) == 0o600


def test_the_checkpoint_command_refuses_a_head_rewritten_without_the_key(app, runner, session):
    events = _events(session, 2)
    _recompute_unkeyed(session, start_id=events[-1].id)
    result = runner.invoke(args=["dost", "audit", "checkpoint"])
    assert result.exit_code != 0 and "No checkpoint written" in result.output


def test_commits_checkpoint_the_head_once_the_last_checkpoint_is_older_than_the_interval(app, session,
                                                                                         monkeypatch):
    writer = checkpointer(app)
    now = [1000.0]
    monkeypatch.setattr(writer, "clock", lambda: now[0])
    monkeypatch.setattr(writer, "interval", 60.0)
    monkeypatch.setattr(writer, "last_written", 990.0)
    before = len(_lines(app))
    _events(session, 1)
    assert len(_lines(app)) == before and writer.pending  # 10 s since the last one: not yet
    now[0] = 1050.0
    session.execute(text("UPDATE insurer SET full_name = full_name WHERE id = 1"))
    session.commit()
    assert len(_lines(app)) == before  # due, but this commit appended no audit event
    events = _events(session, 1)
    lines = _lines(app)
    assert len(lines) == before + 1 and json.loads(lines[-1])["event_id"] == events[-1].id
    assert writer.last_written == 1050.0 and not writer.pending
    now[0] = 1100.0
    _events(session, 1)
    assert len(_lines(app)) == before + 1


def test_exit_checkpoints_what_the_process_appended(app, session, monkeypatch):
    writer = checkpointer(app)
    monkeypatch.setattr(writer, "last_written", writer.clock())
    events = _events(session, 1)
    before = len(_lines(app))
    writer.close()
    assert len(_lines(app)) == before + 1 and json.loads(_lines(app)[-1])["event_id"] == events[-1].id
    writer.close()  # nothing appended since
    assert len(_lines(app)) == before + 1


def test_a_legacy_chain_is_reported_until_sealed_then_verified(app, runner, session):
    _events(session, 3)
    _recompute_unkeyed(session)  # as written before the audit key existed
    os.remove(app.config["AUDIT_CHECKPOINT_FILE"]) if os.path.exists(app.config["AUDIT_CHECKPOINT_FILE"]) else None
    events = _events(session, 1)  # the upgraded app appends keyed events onto it
    result = _verify(runner)
    assert result.exit_code != 0 and "this database predates the audit key" in result.output, result.output
    sealed = runner.invoke(args=["dost", "audit", "seal-legacy"])
    assert sealed.exit_code == 0, sealed.output
    seal = session.scalars(select(AuditEvent).where(AuditEvent.action == audit.LEGACY_SEALED)).one()
    assert seal.changes["legacy_head_id"] == events[2].id and seal.actor_label == "cli: dost audit seal-legacy"
    _checkpoint(app, runner)
    result = _verify(runner)
    assert result.exit_code == 0 and "first 3 events predate the audit key" in result.output, result.output
    assert runner.invoke(args=["dost", "audit", "seal-legacy"]).exit_code != 0  # once
    # An unkeyed event is still protected by the seal: rewriting it and its successors is found.
    session.execute(text("UPDATE audit_event SET changes = :c WHERE id = :id"), {"c": '{"n": 9}', "id": events[0].id})
    session.commit()
    _recompute_unkeyed(session)
    result = _verify(runner)
    assert result.exit_code != 0 and "Content changed" in result.output, result.output


def test_sealing_refuses_a_keyed_chain_recomputed_without_the_key(app, runner, session):
    _events(session, 3)
    _checkpoint(app, runner)
    _recompute_unkeyed(session)
    result = runner.invoke(args=["dost", "audit", "seal-legacy"])
    assert result.exit_code != 0 and "Not sealed" in result.output
    assert not session.scalar(select(func.count()).where(AuditEvent.action == audit.LEGACY_SEALED))


def test_the_audit_key_is_generated_once_with_mode_0600(tmp_path):
    key = config.load_or_create_secret_key(str(tmp_path), "audit_key")
    assert len(key) == 64 and config.load_or_create_secret_key(str(tmp_path), "audit_key") == key
    assert stat.S_IMODE(os.stat(tmp_path / "audit_key").st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["audit_key"]


def test_a_short_audit_key_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="DOST_AUDIT_KEY"):
        build_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path, AUDIT_KEY="short")


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
