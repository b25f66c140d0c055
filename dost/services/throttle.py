"""Guessing limits per credential (the card's PIN) and per typed staff user name, shared by every app process.

Each attempt is counted before its secret is checked, in a short transaction of its own, and a success forgets
the count. So two processes guessing at once both count, a request that fails and rolls back keeps its count, and
once the subject is locked a burst of parallel guesses gets one through at most. After FREE_FAILURES failures the
subject is locked for FIRST_LOCK, doubling with each further failure up to MAX_LOCK; a locked subject is refused
before its secret is checked (a guess then tells nothing, and does not extend the lock). The lock ends by itself,
and failures are forgotten FORGET_AFTER the last attempt. Unknown user names and card numbers are counted exactly
like real ones, so the answers never tell which exist.

The state lives in the `sign_in_throttle` table, or in Redis when the engine is configured with a redis:// URL
(DOST_THROTTLE_STORAGE_URL). Subjects are stored as SHA-256 digests, never as typed.
"""

from __future__ import annotations

import hashlib
import math
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from dost.models import SignInThrottle
from dost.services.errors import DomainError
from dost.timeutil import as_utc, local

FREE_FAILURES = 5
FIRST_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)
FORGET_AFTER = timedelta(days=1)

_TABLE = SignInThrottle.__table__
_UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
REDIS_PREFIX = "dost:throttle:"


def card(card_number: str) -> str:
    """The subject of a card: its number as typed (validated digits)."""
    return _digest("card", card_number)


def staff(username: str) -> str:
    """The subject of a staff sign-in: the user name as typed (lower-cased), whether or not it exists."""
    return _digest("staff", username)


def _digest(kind: str, identifier: str) -> str:
    return hashlib.sha256(f"{kind}:{identifier}".encode()).hexdigest()


def lock_for(failures: int) -> timedelta | None:
    """How long this many failures lock the subject: none below FREE_FAILURES, then doubling up to MAX_LOCK."""
    if failures < FREE_FAILURES:
        return None
    # The exponent is capped only to keep the arithmetic small; MAX_LOCK is reached long before.
    return min(FIRST_LOCK * 2 ** min(failures - FREE_FAILURES, 20), MAX_LOCK)


def _message(until: datetime):
    # Rounded up to the minute: trying again at the time shown is never too early.
    shown = local(until)
    if shown.second or shown.microsecond:
        shown = shown.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return _l("Çox sayda uğursuz cəhd edildi. Təhlükəsizlik məqsədilə %(time)s-dək yeni cəhd qəbul olunmur; "
              "bundan sonra yenidən cəhd edin.", time=shown.strftime("%H:%M"))


class Throttled(DomainError):
    """The subject is locked: the attempt was refused before its secret was checked."""

    status_code = 429

    def __init__(self, until: datetime, now: datetime, field: str | None):
        super().__init__("throttled", _message(until), field)
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))


@dataclass(frozen=True)
class Attempt:
    """One counted attempt: the failures including it, and the lock its failure leaves (None: no lock)."""

    subject: str
    failures: int
    locked_until: datetime | None

    def failed(self, field: str | None) -> DomainError | None:
        """The answer for this attempt's failure when it leaves the subject locked; None: the caller's own."""
        if self.locked_until is None:
            return None
        return DomainError("throttled", _message(self.locked_until), field)


def attempt(session: Session, subject: str, now: datetime, field: str | None) -> Attempt:
    """Count an attempt before its secret is checked; raises Throttled (nothing counted) while the subject is locked."""
    failures, until = _store(session).attempt(session, subject, now)
    if failures is None:
        raise Throttled(until, now, field)
    return Attempt(subject, failures, until)


def succeeded(session: Session, attempt: Attempt) -> None:
    """The secret was right: forget the subject's failures (at once, whatever becomes of the caller's transaction)."""
    _store(session).succeeded(session, attempt.subject)


def clear(session: Session, subject: str) -> bool:
    """Forget a subject's failures and lock in the caller's transaction (Redis: at once); whether there were any."""
    return _store(session).forget(session, subject)


def locked(session: Session, subjects: Iterable[str], now: datetime) -> dict[str, datetime]:
    """The subjects among these that are locked at `now`, with the end of their lock."""
    return _store(session).locked(session, list(subjects), now)


@contextmanager
def apart(session: Session) -> Iterator[Session]:
    """A short transaction of its own on the session's database, committed at the end: it outlives a rollback."""
    engine = _engine(session)
    if engine.dialect.name == "sqlite" and _writing(session):
        # SQLite has one writer, and here it is the caller: a second connection would wait for it in vain.
        yield session
        return
    with Session(engine) as own, own.begin():
        if engine.dialect.name == "postgresql":
            # Fail rather than wait for ever on a lock that the caller's own transaction holds (the audit chain's).
            own.execute(text("SET LOCAL lock_timeout = '5s'"))
        yield own


def _engine(session: Session) -> Engine:
    return session.get_bind().engine


def _writing(session: Session) -> bool:
    if isinstance(session, scoped_session):
        session = session()
    # The sqlite3 module begins a transaction before the first write only.
    if not session.in_transaction():
        return False
    return bool(getattr(session.connection().connection.dbapi_connection, "in_transaction", False))


class DatabaseStore:
    """The state in the sign_in_throttle table, written in short transactions of their own."""

    def attempt(self, session: Session, subject: str, now: datetime) -> tuple[int | None, datetime | None]:
        """(failures with this attempt, lock if it fails), or (None, current lock) when locked."""
        with apart(session) as own:
            for _ in range(3):
                failures = own.scalar(
                    update(_TABLE)
                    .where(_TABLE.c.subject == subject,
                           or_(_TABLE.c.locked_until.is_(None), _TABLE.c.locked_until <= now))
                    .values(failures=case((_TABLE.c.last_attempt_at < now - FORGET_AFTER, 1),
                                          else_=_TABLE.c.failures + 1),
                            last_attempt_at=now, locked_until=None)
                    .returning(_TABLE.c.failures)
                )
                if failures is None:
                    row = own.execute(select(_TABLE.c.locked_until).where(_TABLE.c.subject == subject)).first()
                    if row is not None:
                        if row.locked_until is not None and as_utc(row.locked_until) > now:
                            return None, as_utc(row.locked_until)
                        continue  # the lock ended meanwhile
                    failures = self._insert(own, subject, now)
                    if failures is None:
                        continue  # another process counted the first attempt meanwhile
                    # A new row: rows idle for longer than FORGET_AFTER go, so the table stays small.
                    own.execute(delete(_TABLE).where(_TABLE.c.last_attempt_at < now - FORGET_AFTER))
                lock = lock_for(failures)
                until = now + lock if lock is not None else None
                if until is not None:
                    own.execute(update(_TABLE).where(_TABLE.c.subject == subject).values(locked_until=until))
                return failures, until
        raise RuntimeError("sign-in throttle: the row kept changing")

    @staticmethod
    def _insert(own: Session, subject: str, now: datetime) -> int | None:
        values = {"subject": subject, "failures": 1, "last_attempt_at": now}
        upsert = _UPSERT.get(_engine(own).dialect.name)
        if upsert is not None:
            return own.scalar(upsert(_TABLE).values(**values).on_conflict_do_nothing(index_elements=["subject"])
                              .returning(_TABLE.c.failures))
        try:
            with own.begin_nested():
                own.execute(insert(_TABLE).values(**values))
        except IntegrityError:
            return None
        return 1

    def succeeded(self, session: Session, subject: str) -> None:
        with apart(session) as own:
            self.forget(own, subject)

    def forget(self, session: Session, subject: str) -> bool:
        return bool(session.execute(delete(_TABLE).where(_TABLE.c.subject == subject)).rowcount)

    def locked(self, session: Session, subjects: list[str], now: datetime) -> dict[str, datetime]:
        if not subjects:
            return {}
        rows = session.execute(select(_TABLE.c.subject, _TABLE.c.locked_until)
                               .where(_TABLE.c.subject.in_(subjects), _TABLE.c.locked_until > now))
        return {row.subject: as_utc(row.locked_until) for row in rows}


# KEYS[1]: the subject's hash; ARGV: now, FORGET_AFTER, FREE_FAILURES, FIRST_LOCK, MAX_LOCK (µs), expiry (ms).
# One script, so concurrent attempts are counted one after the other, as the database's row lock does.
_REDIS_ATTEMPT = """
local now = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'failures', 'last', 'until')
local locked = tonumber(state[3]) or 0
if locked > now then return {-1, locked} end
local failures = tonumber(state[1]) or 0
if now - (tonumber(state[2]) or 0) > tonumber(ARGV[2]) then failures = 0 end
failures = failures + 1
local free = tonumber(ARGV[3])
local until_ = 0
if failures >= free then
  until_ = now + math.min(tonumber(ARGV[4]) * 2 ^ math.min(failures - free, 20), tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[1], 'failures', failures, 'last', string.format('%d', now),
           'until', string.format('%d', until_))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {failures, until_}
"""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(moment: datetime | timedelta) -> int:
    # Microseconds, as the database keeps them; Lua's doubles hold them exactly until the year 2255.
    return (moment if isinstance(moment, timedelta) else as_utc(moment) - _EPOCH) // timedelta(microseconds=1)


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class RedisStore:
    """The state in Redis: one hash per subject, expiring FORGET_AFTER after the last attempt's lock."""

    def __init__(self, client) -> None:
        self.client = client
        self._attempt = client.register_script(_REDIS_ATTEMPT)

    def attempt(self, session: Session, subject: str, now: datetime) -> tuple[int | None, datetime | None]:
        failures, until = self._attempt(keys=[REDIS_PREFIX + subject], args=[
            _us(now), _us(FORGET_AFTER), FREE_FAILURES, _us(FIRST_LOCK), _us(MAX_LOCK),
            _us(FORGET_AFTER + MAX_LOCK) // 1000])
        if failures < 0:
            return None, _from_us(until)
        return failures, _from_us(until) if until else None

    def succeeded(self, session: Session, subject: str) -> None:
        self.forget(session, subject)

    def forget(self, session: Session, subject: str) -> bool:
        return bool(self.client.delete(REDIS_PREFIX + subject))

    def locked(self, session: Session, subjects: list[str], now: datetime) -> dict[str, datetime]:
        pipe = self.client.pipeline(transaction=False)
        for subject in subjects:
            pipe.hget(REDIS_PREFIX + subject, "until")
        result = {}
        for subject, until in zip(subjects, pipe.execute(), strict=True):
            if until is not None and int(until) > _us(now):
                result[subject] = _from_us(int(until))
        return result


_DATABASE = DatabaseStore()
_redis_stores: weakref.WeakKeyDictionary[Engine, RedisStore] = weakref.WeakKeyDictionary()


def configure(engine: Engine, storage_uri: str | None) -> None:
    """Where this engine's throttle lives: '' or 'database' (the default), or a redis:// or rediss:// URL."""
    uri = (storage_uri or "").strip()
    if uri in ("", "database"):
        _redis_stores.pop(engine, None)
    elif uri.startswith(("redis://", "rediss://")):
        import redis

        _redis_stores[engine] = RedisStore(redis.Redis.from_url(uri))
    else:
        # Not memory://: a per-process count is what this replaces.
        raise ValueError("DOST_THROTTLE_STORAGE_URL must be 'database' or a redis:// URL")


def _store(session: Session) -> DatabaseStore | RedisStore:
    return _redis_stores.get(_engine(session)) or _DATABASE
