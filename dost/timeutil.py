"""Clock helpers: one place to read the time, so tests can pin it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BAKU = ZoneInfo("Asia/Baku")


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in Baku, the service's legal day."""
    return utcnow().astimezone(BAKU).date()


def as_utc(moment: datetime) -> datetime:
    """A datetime as aware UTC (SQLite returns naive values for aware columns)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local(moment: datetime) -> datetime:
    """A stored moment in Baku time for display."""
    return as_utc(moment).astimezone(BAKU)
