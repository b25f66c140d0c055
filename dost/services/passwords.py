"""Argon2 hashing for staff passwords and demo card PINs."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the cost parameters (tests use a cheap hasher)."""
    global _hasher
    _hasher = hasher


def hash_password(secret: str) -> str:
    return _hasher.hash(secret)


def check_password(stored_hash: str, secret: str) -> bool:
    """True when the secret matches; never raises for a wrong or malformed hash."""
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
