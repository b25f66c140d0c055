"""Flask extensions, created once and bound in the app factory."""

import sqlite3
import time

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from dost.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _sqlite_connection_settings(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, WAL for concurrent readers, wait instead of failing on a busy writer."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint_inside_a_transaction(conn, name) -> None:
    """SQLite: begin the transaction before a SAVEPOINT. The sqlite3 module begins one only before a write, and a
    SAVEPOINT outside a transaction starts its own, which RELEASE then commits at once: a savepoint taken before
    the transaction's first write would commit its rows however the transaction ends (a half-written confirm).
    IMMEDIATE: a savepoint is taken to write, and a deferred transaction that read first could not write after
    another process committed (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out)."""
    dbapi_connection = conn.connection.dbapi_connection
    if isinstance(dbapi_connection, sqlite3.Connection) and not dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# A pooled connection unused for this long is pinged before use: the database may have restarted meanwhile.
IDLE_PING_SECONDS = 5.0


@event.listens_for(Pool, "checkin")
def _remember_when_returned(dbapi_connection, connection_record) -> None:
    if connection_record is not None:
        connection_record.info["returned_at"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, connection_record, connection_proxy) -> None:
    """Ping a connection that sat idle in the pool; raising DisconnectionError makes the pool replace it.

    Like pool_pre_ping, but a connection of a busy pool (used moments ago) skips the round trip that pool_pre_ping
    pays on every checkout. A connection that breaks while in use still fails that one request (a 503 page) and
    SQLAlchemy then replaces the pool's connections."""
    returned_at = connection_record.info.get("returned_at")
    if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        # The ping must not leave a transaction open (the driver began one before the SELECT).
        dbapi_connection.rollback()
    except Exception as error:  # any driver error means the connection is unusable
        raise exc.DisconnectionError() from error
