"""The verification check log written in batches (dost.services.check_log), and the pool's idle-connection ping."""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import create_engine, exc, func, select

from dost.extensions import IDLE_PING_SECONDS, _ping_if_idle, db
from dost.models import VerificationCheck
from dost.services import verification
from dost.services.check_log import CheckLogWriter
from dost.timeutil import utcnow
from tests.test_signing import make_notice, raw_token_of
from tests.test_verification import v_url


def logged(session) -> int:
    session.rollback()  # a fresh snapshot: the writer commits on its own connection
    return session.scalar(select(func.count()).select_from(VerificationCheck)) or 0


def row(notice_id: int | None = None, result: str = "valid") -> dict:
    return {"at": utcnow(), "notice_id": notice_id, "result": result, "client_hash": "0" * 64, "channel": "qr"}


@pytest.fixture
def engine(app):
    with app.app_context():
        return db.engine


def test_rows_wait_in_memory_until_flushed_then_land_in_one_transaction(engine, session):
    notice = make_notice(session)
    writer = CheckLogWriter(engine, flush_seconds=3600)
    writer._pid = os.getpid()  # no background thread: this test flushes by hand
    for _ in range(3):
        writer.add(row(notice.id))
    assert writer.pending() == 3 and logged(session) == 0
    assert writer.flush() == 3
    assert writer.pending() == 0 and logged(session) == 3
    assert verification.checks_count(session, [notice.id]) == {notice.id: 3}
    assert writer.flush() == 0


def test_the_background_thread_writes_the_buffer(engine, session):
    writer = CheckLogWriter(engine, flush_seconds=0.05)
    writer.add(row())
    assert writer._thread is not None and writer._thread.daemon
    writer._thread.join(timeout=0)  # still running
    written = threading.Event()
    original = writer.flush

    def flush_and_tell() -> int:
        count = original()
        if count:
            written.set()
        return count

    writer.flush = flush_and_tell
    assert written.wait(timeout=10), "the writer thread never flushed"
    writer.close()
    assert not writer._thread.is_alive()
    assert logged(session) == 1


def test_rows_survive_a_database_failure_and_are_written_on_the_next_try(engine, session):
    broken = create_engine("sqlite:////nonexistent-directory/dost.sqlite3")
    writer = CheckLogWriter(broken, flush_seconds=3600)
    writer._pid = os.getpid()
    writer.add(row())
    writer.add(row())
    assert writer.flush() == 0 and writer.pending() == 2
    writer.engine = engine
    assert writer.flush() == 2 and logged(session) == 2


def test_a_row_the_database_refuses_keeps_the_batch_for_the_next_try(engine, session):
    # On PostgreSQL the batch goes by COPY through the driver, whose errors are not SQLAlchemy's: still caught.
    writer = CheckLogWriter(engine, flush_seconds=3600)
    writer._pid = os.getpid()
    writer.add(row())
    writer.add(row(notice_id=2_000_000_000))  # no such notice: the foreign key refuses the whole batch
    assert writer.flush() == 0 and writer.pending() == 2 and logged(session) == 0
    writer._rows.pop()
    assert writer.flush() == 1 and logged(session) == 1


def test_memory_stays_bounded_while_the_database_is_away(engine):
    writer = CheckLogWriter(create_engine("sqlite:////nonexistent-directory/dost.sqlite3"), flush_seconds=3600,
                            max_buffered=5)
    writer._pid = os.getpid()
    for _ in range(8):
        writer.add(row())
    assert writer.pending() == 5 and writer.dropped == 3
    writer.flush()
    assert writer.pending() == 5 and writer.dropped == 3


def test_the_page_hands_its_check_to_the_writer_when_batching_is_on(app, client, session):
    notice = make_notice(session)
    app.config["VERIFY_LOG_FLUSH_SECONDS"] = 3600
    try:
        assert 'data-reason="valid"' in client.get(v_url(notice)).get_data(as_text=True)
        writer: CheckLogWriter = app.extensions["dost.check_log"]
        assert writer.pending() == 1 and logged(session) == 0
        writer.close()
        assert logged(session) == 1
        stored = session.scalars(select(VerificationCheck)).one()
        assert (stored.notice_id, stored.result, stored.channel) == (notice.id, "valid", "qr")
    finally:
        app.config["VERIFY_LOG_FLUSH_SECONDS"] = 0
        app.extensions.pop("dost.check_log", None)


def test_the_check_reads_in_autocommit_and_leaves_no_transaction_open(app, client, session):
    notice = make_notice(session)
    assert 'data-reason="valid"' in client.get(v_url(notice)).get_data(as_text=True)
    with app.app_context():
        read_engine = app.extensions["dost.verify_read_engine"]
        assert read_engine.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
        with read_engine.connect() as connection:
            assert verification.check_token(connection, raw_token_of(notice)).reason == "valid"


def test_an_idle_pooled_connection_is_pinged_and_replaced_when_dead(app, monkeypatch):
    with app.app_context():
        engine = db.engine
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        record = connection.connection._connection_record
    # Pretend the connection has sat in the pool for long, and that the server went away meanwhile.
    record.info["returned_at"] -= IDLE_PING_SECONDS + 1
    dead = record.dbapi_connection
    dead.close()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        assert connection.connection.dbapi_connection is not dead


class StubConnection:
    """A DBAPI connection that records what the checkout listener does with it."""

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.calls = fail, []

    def cursor(self):
        self.calls.append("cursor")
        if self.fail:
            raise OSError("server closed the connection")
        return self

    def execute(self, statement):
        self.calls.append(statement)

    def close(self):
        self.calls.append("close")

    def rollback(self):
        self.calls.append("rollback")


class StubRecord:
    def __init__(self, idle_seconds: float | None) -> None:
        self.info = {} if idle_seconds is None else {"returned_at": time.monotonic() - idle_seconds}


def test_only_connections_idle_for_a_while_are_pinged():
    recent, fresh, idle = StubConnection(), StubConnection(), StubConnection()
    _ping_if_idle(recent, StubRecord(0.1), None)
    _ping_if_idle(fresh, StubRecord(None), None)  # never returned yet: just connected
    _ping_if_idle(idle, StubRecord(IDLE_PING_SECONDS + 1), None)
    assert recent.calls == [] and fresh.calls == []
    assert idle.calls == ["cursor", "SELECT 1", "close", "rollback"]
    with pytest.raises(exc.DisconnectionError):
        _ping_if_idle(StubConnection(fail=True), StubRecord(IDLE_PING_SECONDS + 1), None)
