"""Signed checkpoints of the audit chain head, appended to a file outside the database (and to the log).

A checkpoint line is one JSON object: the head's event id and hash, the number of events up to it, the time, the
key id and an Ed25519 signature under the key derived from the audit key. `dost audit verify` compares the chain
with every line: a head that is gone, or that has another hash now, shows that the newest events were deleted or
the chain rewritten, which the chain alone cannot show. Each process writes a checkpoint after a commit that
appended audit events when its last one is older than the interval, and at exit; cron can add
`flask dost audit checkpoint`. Lines are written with one O_APPEND write each, so processes can share the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dost.services import audit
from dost.services.audit import AuditKey, Checkpoint, Finding
from dost.services.errors import DomainError
from dost.timeutil import as_utc

log = logging.getLogger("dost.audit")

VERSION = 1
_SIGNED_PREFIX = b"dost audit checkpoint\n"
_HASH = re.compile(r"[0-9a-f]{64}")
LOG_PREFIX = "audit checkpoint "
# The newest checkpoint is looked for in this many bytes at the end of the file.
_TAIL_BYTES = 64 * 1024


def _signed_bytes(body: dict[str, Any]) -> bytes:
    unsigned = {name: value for name, value in body.items() if name != "sig"}
    return _SIGNED_PREFIX + json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()


def format_line(checkpoint: Checkpoint, key: AuditKey) -> str:
    """The checkpoint as one signed JSON line (with its newline)."""
    body: dict[str, Any] = {"v": VERSION, "kid": key.kid, "event_id": checkpoint.event_id, "hash": checkpoint.hash,
                            "count": checkpoint.count, "at": as_utc(checkpoint.at).isoformat()}
    body["sig"] = key.sign(_signed_bytes(body))
    return json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n"


def parse_line(line: str, key: AuditKey, source: str) -> Checkpoint | Finding | None:
    """A checkpoint whose signature holds, or a finding saying why the line cannot be trusted (kind other_key, with
    the key id as message, for a line of another key); None for a line of the app's JSON log that is no checkpoint
    (the log holds a copy of every checkpoint line)."""

    def rejected(reason: str) -> Finding:
        return Finding("bad_checkpoint", None, f"Checkpoint {source} {reason}; it is not trusted.")

    try:
        body = json.loads(line)
        if isinstance(body, dict) and "logger" in body and "message" in body:
            message = str(body["message"])
            if body["logger"] != log.name or not message.startswith(LOG_PREFIX):
                return None
            body = json.loads(message[len(LOG_PREFIX):])
    except ValueError:
        return rejected("is not a JSON line (damaged or edited)")
    if not isinstance(body, dict) or body.get("v") != VERSION:
        return rejected("is not a checkpoint of a known format")
    event_id, count, digest = body.get("event_id"), body.get("count"), body.get("hash")
    if (type(event_id) is not int or type(count) is not int or event_id < 1 or count < 1
            or not isinstance(digest, str) or not _HASH.fullmatch(digest)
            or not isinstance(body.get("at"), str) or not isinstance(body.get("sig"), str)):
        return rejected("is incomplete or malformed")
    if body.get("kid") != key.kid:
        return Finding("other_key", None, str(body.get("kid")))
    if not key.signature_valid(_signed_bytes(body), body["sig"]):
        return rejected("has a signature that does not match its content: the line was forged or edited")
    try:
        at = datetime.fromisoformat(body["at"])
    except ValueError:
        return rejected("has an unreadable time")
    if at.tzinfo is None:
        return rejected("has a time without a time zone")
    return Checkpoint(event_id, digest, count, at, source)


def read(paths: Iterable[str | os.PathLike], key: AuditKey) -> tuple[list[Checkpoint], list[Finding], list[str]]:
    """Every checkpoint of the files; findings for lines that cannot be trusted; the files that do not exist."""
    checkpoints: list[Checkpoint] = []
    findings: list[Finding] = []
    missing: list[str] = []
    for path in paths:
        # Lines signed with another key come in runs (a swapped file, a wrong DOST_AUDIT_KEY): one finding per key.
        other_keys: dict[str, list[int]] = {}
        try:
            handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            missing.append(str(path))
            continue
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                parsed = parse_line(line, key, f"line {number} of {path}")
                if isinstance(parsed, Checkpoint):
                    checkpoints.append(parsed)
                elif parsed is not None and parsed.kind == "other_key":
                    other_keys.setdefault(parsed.message, []).append(number)
                elif parsed is not None:
                    findings.append(parsed)
        for kid, numbers in other_keys.items():
            lines = (f"Checkpoint line {numbers[0]} of {path} is" if len(numbers) == 1
                     else f"{len(numbers)} checkpoint lines of {path} (the first: line {numbers[0]}) are")
            findings.append(Finding("bad_checkpoint", None,
                                    f"{lines} signed with another key (key id {kid!r}; this "
                                    f"audit key's id is {key.kid}): forged, or written under another audit key (is "
                                    "DOST_AUDIT_KEY the key this chain was written with?); not trusted."))
    return checkpoints, findings, missing


def newest(path: str | os.PathLike, key: AuditKey) -> Checkpoint | None:
    """The last valid checkpoint near the end of the file; None if there is none."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    for line in reversed(tail.splitlines()):
        if line.strip():
            parsed = parse_line(line, key, str(path))
            if isinstance(parsed, Checkpoint):
                return parsed
    return None


def append(path: str | os.PathLike, line: str) -> None:
    """Append one line in one O_APPEND write: lines of concurrent processes never interleave."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = line.encode()
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(f"short write to {target}: {written} of {len(data)} bytes")


class Checkpointer:
    """One process's checkpoint writer for one database engine and checkpoint file."""

    def __init__(self, engine: Engine, key: AuditKey, path: str | os.PathLike, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = weakref.ref(engine)
        self.key = key
        self.path = Path(path)
        self.interval = interval
        self.clock = clock
        # When this process last wrote a checkpoint (clock seconds), and whether events were appended since.
        self.last_written: float | None = None
        self.pending = False
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def appended(self) -> None:
        """A commit appended audit events: checkpoint the head if the last checkpoint is older than the interval."""
        self.pending = True
        if self.last_written is None or self.clock() - self.last_written >= self.interval:
            try:
                self.write()
            except DomainError as error:
                log.error("audit checkpoint not written: %s", error.message)
            except Exception:  # the commit is done; a lost checkpoint must not fail the request
                log.exception("audit checkpoint not written to %s", self.path)

    def close(self) -> None:
        """At exit: checkpoint what this process appended since its last checkpoint."""
        if self.pending:
            try:
                self.write()
            except Exception:  # exiting anyway; the log tells the operator (an unkeyed head included)
                log.exception("audit checkpoint not written to %s at exit", self.path)

    def write(self, unless_unchanged: bool = False) -> Checkpoint | None:
        """Checkpoint the committed chain head (read in a session of its own); None for an empty chain, or when
        unless_unchanged and the file's newest checkpoint names the same head.

        Raises DomainError when the head does not carry the keyed HMAC (it is then not vouched for)."""
        engine = self._engine()
        if engine is None:
            return None
        if self._pid != os.getpid():
            # A forked worker inherits the lock in whatever state the parent's threads left it.
            self._lock, self._pid = threading.Lock(), os.getpid()
        if not self._lock.acquire(blocking=False):
            return None  # another thread of this process is writing one right now
        try:
            with Session(engine) as session:
                checkpoint = audit.head_checkpoint(session, self.key)
            if checkpoint is None:
                return None
            if unless_unchanged:
                previous = newest(self.path, self.key)
                if previous is not None and (previous.event_id, previous.hash) == (checkpoint.event_id,
                                                                                  checkpoint.hash):
                    self.pending = False
                    return None
            line = format_line(checkpoint, self.key)
            append(self.path, line)
            log.info("%s%s", LOG_PREFIX, line.strip())
            self.last_written, self.pending = self.clock(), False
            return checkpoint
        finally:
            self._lock.release()


_checkpointers: weakref.WeakKeyDictionary[Engine, Checkpointer] = weakref.WeakKeyDictionary()


def register(engine: Engine, checkpointer: Checkpointer) -> None:
    """Let commits through this engine that appended audit events reach the checkpointer."""
    _checkpointers[engine] = checkpointer
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)


def _after_commit(session: Session) -> None:
    # Runs after the transaction is committed: the head the checkpointer reads is never an uncommitted one.
    engine = session.info.pop(audit.APPENDED, None)
    if engine is not None and (checkpointer := _checkpointers.get(engine)) is not None:
        checkpointer.appended()

