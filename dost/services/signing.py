"""Ed25519 signatures over notice key fields: keys, rotation, compromise, the QR URL and the public JWK set."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from dost.models import Application, Notice, SigningKey
from dost.services import audit
from dost.services.actors import Actor
from dost.services.errors import DomainError, NotFound
from dost.timeutil import as_utc, local, utcnow

PAYLOAD_VERSION = 1
# Domain separation: these bytes can never be mistaken for another document type signed by the same key.
PAYLOAD_CONTEXT = "dost-ssh-notice"
SIGNATURE_LENGTH = 86  # base64url of 64 bytes, unpadded
KID_LENGTH = 8
KID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
# Printed under the QR; no 0/O, 1/I/L, 5/S, 8/B, 2/Z so a reader cannot mistake one character for another.
CODE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 8
# A key seen in the database is trusted in memory this long; a compromise reaches every process within it.
KEY_CACHE_SECONDS = 60.0
# Unknown key ids reload the cache at most this often, so junk ids cannot hammer the database.
KEY_MISS_RELOAD_SECONDS = 2.0

_settings: dict[str, bytes] = {"salt": b"dost-development-salt"}


def configure(salt: str | bytes) -> None:
    """Set the server secret that salts FİN and client-address hashes (called once by the app factory)."""
    _settings["salt"] = salt.encode() if isinstance(salt, str) else salt


def derive_salt(secret_key: str) -> str:
    """A FİN-hash salt derived from the app secret when no FIN_HASH_SALT is configured."""
    return hmac.new(secret_key.encode(), b"dost:fin-hash-salt:v1", hashlib.sha256).hexdigest()


def fin_hash(fin: str) -> str:
    """Salted SHA-256 (HMAC) of a FİN, hex; the salt is a server secret, so the 36^7 FİN space cannot be searched."""
    return hmac.new(_settings["salt"], b"fin:" + fin.strip().upper().encode(), hashlib.sha256).hexdigest()


def client_hash(address: str) -> str:
    """Salted hash of a client address for the check log (the address itself is never stored)."""
    return hmac.new(_settings["salt"], b"client:" + address.encode(), hashlib.sha256).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: anything else raises ValueError."""
    if not text or len(text) % 4 == 1 or not set(text) <= _B64URL_CHARS:
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error
    # Only the canonical spelling: otherwise the unused low bits of the last character give look-alike signatures.
    if b64url(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


_B64URL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# --- canonical payload --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeFields:
    """The signed key fields of a notice."""

    application_type: str
    number: str
    issue_date: date
    insurer_voen: str
    fin_hash: str
    deadline: date | None


def notice_fields(application_type: Enum | None, number: str, issued_at: datetime, insurer_voen: str | None,
                  fin_hash: str | None, deadline: date | None) -> NoticeFields:
    """The key fields from the stored values (the stored FİN hash, so a salt change never breaks them)."""
    return NoticeFields(
        application_type=application_type.value if application_type is not None else "",
        number=number,
        issue_date=local(issued_at).date(),
        insurer_voen=insurer_voen or "",
        fin_hash=fin_hash or "",
        deadline=deadline,
    )


def fields_of(notice: Notice, application: Application) -> NoticeFields:
    """The key fields as they stand in the database, from the ORM rows."""
    return notice_fields(application.application_type, notice.number, notice.issued_at,
                         application.insurer.voen if application.insurer is not None else None, notice.fin_hash,
                         application.deadline)


def canonical_bytes(fields: NoticeFields, kid: str) -> bytes:
    """Unambiguous bytes to sign: JSON with sorted keys and no whitespace, with a context, version and key id."""
    content = {
        "ctx": PAYLOAD_CONTEXT,
        "v": PAYLOAD_VERSION,
        "kid": kid,
        "type": fields.application_type,
        "number": fields.number,
        "issued": fields.issue_date.isoformat(),
        "voen": fields.insurer_voen,
        "fin": fields.fin_hash,
        "deadline": fields.deadline.isoformat() if fields.deadline else None,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- keys -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicKey:
    """A verification key as every process holds it in memory."""

    kid: str
    key: Ed25519PublicKey
    raw: bytes
    created_at: datetime
    retired_at: datetime | None
    compromised_at: datetime | None

    @property
    def compromised(self) -> bool:
        return self.compromised_at is not None


class _KeyCache:
    """Public keys by key id, loaded from the database and kept in process memory."""

    def __init__(self) -> None:
        self.keys: dict[str, PublicKey] = {}
        self.loaded_at = float("-inf")
        self.lock = threading.Lock()

    def load(self, db: Session | Connection) -> None:
        # Columns, not entities: a check may read through a plain connection.
        rows = db.execute(select(SigningKey.kid, SigningKey.public_key, SigningKey.created_at, SigningKey.retired_at,
                                 SigningKey.compromised_at)).all()
        keys = {row.kid: _public(row) for row in rows}
        with self.lock:
            self.keys = keys
            self.loaded_at = time.monotonic()

    def put(self, row: SigningKey) -> None:
        with self.lock:
            self.keys = {**self.keys, row.kid: _public(row)}

    def get(self, db: Session | Connection, kid: str) -> PublicKey | None:
        age = time.monotonic() - self.loaded_at
        key = self.keys.get(kid)
        if age > KEY_CACHE_SECONDS or (key is None and age > KEY_MISS_RELOAD_SECONDS):
            self.load(db)
            key = self.keys.get(kid)
        return key

    def clear(self) -> None:
        with self.lock:
            self.keys = {}
            self.loaded_at = float("-inf")


_cache = _KeyCache()


def _public(row) -> PublicKey:
    """A key row (entity or columns) as a verification key."""
    return PublicKey(
        kid=row.kid,
        key=Ed25519PublicKey.from_public_bytes(row.public_key),
        raw=bytes(row.public_key),
        created_at=as_utc(row.created_at),
        retired_at=as_utc(row.retired_at) if row.retired_at else None,
        compromised_at=as_utc(row.compromised_at) if row.compromised_at else None,
    )


def invalidate_key_cache() -> None:
    """Forget cached keys (after a rotation or compromise in this process; other processes follow within a minute)."""
    _cache.clear()


def public_key(db: Session | Connection, kid: str) -> PublicKey | None:
    """The verification key for a key id, from memory (the database is read only on a cache miss or expiry)."""
    if len(kid) != KID_LENGTH or not set(kid) <= set(KID_ALPHABET):
        return None
    return _cache.get(db, kid)


def _new_kid(public_raw: bytes) -> str:
    # RFC 7638 thumbprint of the JWK, shortened to 40 bits of base32: short in the QR, collisions irrelevant.
    thumbprint_input = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw)},
                                  sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(thumbprint_input).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:KID_LENGTH]


def create_key(session: Session, actor: Actor) -> SigningKey:
    """Generate a new Ed25519 key; it becomes the current signing key."""
    private = Ed25519PrivateKey.generate()
    private_raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    public_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    row = SigningKey(kid=_new_kid(public_raw), private_key=private_raw, public_key=public_raw, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor, "signing_key.create", "signing_key", row.id, {"kid": row.kid})
    _cache.put(row)
    return row


def current_key(session: Session) -> SigningKey | None:
    """The newest key that is neither retired nor compromised."""
    return session.scalar(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None), SigningKey.compromised_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        .limit(1)
    )


def rotate_keys(session: Session, actor: Actor) -> SigningKey:
    """Add a new signing key and retire the previous ones; notices they signed still verify."""
    now = utcnow()
    for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = now
        audit.record(session, actor, "signing_key.retire", "signing_key", row.id, {"kid": row.kid})
    session.flush()
    row = create_key(session, actor)
    invalidate_key_cache()
    return row


def compromise_key(session: Session, actor: Actor, kid: str) -> SigningKey:
    """Mark a key compromised: its notices show 'signature key revoked' and it never signs again."""
    row = session.scalar(select(SigningKey).where(SigningKey.kid == kid))
    if row is None:
        raise NotFound("key_not_found", _l("Bu identifikatorla açar tapılmadı."), "kid")
    if row.compromised_at is not None:
        raise DomainError("already_compromised", _l("Bu açar artıq etibarsız elan edilib."), "kid")
    now = utcnow()
    row.compromised_at = now
    if row.retired_at is None:
        row.retired_at = now
    session.flush()
    audit.record(session, actor, "signing_key.compromise", "signing_key", row.id, {"kid": row.kid})
    invalidate_key_cache()
    return row


def list_keys(session: Session) -> list[SigningKey]:
    """All keys, oldest first."""
    return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at, SigningKey.id)))


def jwks(session: Session) -> dict:
    """The public key set (JWK, OKP/Ed25519) with key ids and validity; compromised keys are listed as revoked."""
    keys = []
    for row in list_keys(session):
        keys.append({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": row.kid,
            "x": b64url(bytes(row.public_key)),
            "status": "revoked" if row.compromised_at else ("retired" if row.retired_at else "current"),
            "valid_from": as_utc(row.created_at).isoformat(),
            # A retired key no longer signs but its notices stay valid; a compromised one is invalid from the start.
            "signs_until": as_utc(row.retired_at).isoformat() if row.retired_at else None,
            "revoked_at": as_utc(row.compromised_at).isoformat() if row.compromised_at else None,
        })
    return {
        "keys": keys,
        "payload": {
            "version": PAYLOAD_VERSION,
            "context": PAYLOAD_CONTEXT,
            "format": "UTF-8 JSON, sorted keys, no whitespace: ctx, v, kid, type, number, issued (YYYY-MM-DD, "
                      "Asia/Baku), voen, fin (HMAC-SHA256 of the FİN with a server secret, hex), deadline",
            "url": "https://<host>/v/<percent-encoded number>.<kid>.<base64url Ed25519 signature>",
        },
    }


# --- signing and checking ----------------------------------------------------------------------------------


def _private(row: SigningKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(row.private_key))


def new_verification_code() -> str:
    """A random short code from an alphabet without look-alike characters."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def sign_notice(session: Session, notice: Notice, application: Application) -> None:
    """Sign the notice's key fields with the current key; sets key_id, signature, verification_code and fin_hash."""
    row = current_key(session) or create_key(session, Actor.system())
    notice.fin_hash = fin_hash(application.fin)
    if not notice.verification_code:
        notice.verification_code = new_verification_code()
    notice.key_id = row.kid
    message = canonical_bytes(fields_of(notice, application), row.kid)
    notice.signature = b64url(_private(row).sign(message))


def signature_valid(key: PublicKey, fields: NoticeFields, signature: str) -> bool:
    """Whether the signature is the key's signature over these fields (pure computation, no database)."""
    try:
        raw = b64url_decode(signature)
    except ValueError:
        return False
    if len(raw) != 64:
        return False
    try:
        key.key.verify(raw, canonical_bytes(fields, key.kid))
    except InvalidSignature:
        return False
    return True


def verification_token(notice: Notice) -> str:
    """'<percent-encoded number>.<kid>.<signature>': the part of the QR URL after /v/."""
    return f"{quote(notice.number, safe='')}.{notice.key_id}.{notice.signature}"


def verification_url(notice: Notice, base_url: str) -> str:
    """https://<host>/v/<notice number>.<kid>.<signature> — the URL the QR encodes."""
    return f"{base_url.rstrip('/')}/v/{verification_token(notice)}"


@dataclass(frozen=True)
class ParsedToken:
    number: str
    kid: str
    signature: str


MAX_TOKEN_LENGTH = 200


def parse_token(token: str) -> ParsedToken | None:
    """Split '<number>.<kid>.<signature>' (already URL-decoded) or None when it cannot be one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    parts = token.rsplit(".", 2)
    if len(parts) != 3:
        return None
    number, kid, signature = parts
    if not number or len(number) > 32 or len(kid) != KID_LENGTH or len(signature) != SIGNATURE_LENGTH:
        return None
    if not set(kid) <= set(KID_ALPHABET) or not set(signature) <= _B64URL_CHARS:
        return None
    # Control characters, lone surrogates and the like cannot be in a number (and PostgreSQL refuses NUL).
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in number):
        return None
    return ParsedToken(number, kid, signature)


def normalize_code(value: str) -> str:
    """A typed verification code: spaces and dashes dropped, upper-cased."""
    return "".join(ch for ch in value if ch not in " -\t").upper()


def code_matches(stored: str | None, typed: str) -> bool:
    """Constant-time comparison of a typed code with the stored one."""
    if not stored:
        return False
    return hmac.compare_digest(stored.encode(), normalize_code(typed).encode("utf-8", "replace"))


def format_code(code: str | None) -> str:
    """The code as printed: two groups of four (ABCD-EFGH)."""
    if not code:
        return ""
    return f"{code[:4]}-{code[4:]}" if len(code) == CODE_LENGTH else code
