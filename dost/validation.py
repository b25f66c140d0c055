"""Field rules of DESIGN.md in one module: FİN, VÖEN, DSMF account, SSN, mobile numbers, Azerbaijani case."""

from __future__ import annotations

import re

from dost.models import InsurerType

FIN_RE = re.compile(r"[0-9A-Z]{7}")
VOEN_RE = re.compile(r"\d{10}")
DSMF_ACCOUNT_RE = re.compile(r"\d{10}")
SSN_RE = re.compile(r"\d{13}")
CARD_NUMBER_RE = re.compile(r"\d{8,16}")
ASAN_USER_ID_RE = re.compile(r"\d{6}")
PIN_RE = re.compile(r"\d{4,8}")
MOBILE_OPERATOR_CODES = ("10", "50", "51", "55", "60", "70", "77", "99")
MOBILE_RE = re.compile(r"\+994(" + "|".join(MOBILE_OPERATOR_CODES) + r")\d{7}")

_AZ_UPPER = str.maketrans({"i": "İ", "ı": "I"})
_AZ_LOWER = str.maketrans({"İ": "i", "I": "ı"})


def az_upper(text: str) -> str:
    """Upper-case with Azerbaijani rules (i → İ, ı → I)."""
    return text.translate(_AZ_UPPER).upper()


def az_lower(text: str) -> str:
    """Lower-case with Azerbaijani rules (İ → i, I → ı)."""
    return text.translate(_AZ_LOWER).lower()


def search_key(text: str) -> str:
    """Case-folded form for name search: upper-case by Azerbaijani rules, surrounding spaces removed."""
    return az_upper(" ".join(text.split()))


def normalize_fin(value: str) -> str:
    """A FİN as stored: trimmed and upper-cased (Azerbaijani-safe, so 'i' never becomes a dotless 'I')."""
    return az_upper(value.strip()).replace("İ", "I")


def is_fin(value: str) -> bool:
    """Seven characters of 0-9 and A-Z."""
    return FIN_RE.fullmatch(value) is not None


def is_voen(value: str, insurer_type: InsurerType | None = None) -> bool:
    """Ten digits whose last digit is 1 (legal entity) or 2 (natural person)."""
    if VOEN_RE.fullmatch(value) is None or value[-1] not in "12":
        return False
    if insurer_type is None:
        return True
    return value[-1] == ("1" if insurer_type == InsurerType.LEGAL else "2")


def is_dsmf_account(value: str) -> bool:
    """Ten digits."""
    return DSMF_ACCOUNT_RE.fullmatch(value) is not None


def is_ssn(value: str) -> bool:
    """Thirteen digits."""
    return SSN_RE.fullmatch(value) is not None


def normalize_mobile(value: str) -> str:
    """Mobile number without spaces, dashes or brackets; a local 0XX prefix becomes +994XX."""
    digits = re.sub(r"[\s\-()]", "", value.strip())
    if digits.startswith("00994"):
        digits = "+" + digits[2:]
    elif digits.startswith("994"):
        digits = "+" + digits
    elif re.fullmatch(r"0\d{9}", digits):
        digits = "+994" + digits[1:]
    return digits


def is_mobile(value: str) -> bool:
    """+994, an operator code of 10, 50, 51, 55, 60, 70, 77 or 99, then 7 digits."""
    return MOBILE_RE.fullmatch(value) is not None


def is_card_number(value: str) -> bool:
    """An e-İmza card number: 8 to 16 digits."""
    return CARD_NUMBER_RE.fullmatch(value) is not None


MAX_ID = 2**31 - 1  # ids are 32-bit integer columns on PostgreSQL


def parse_id(value: str | None) -> int | None:
    """An id carried in a form or query string: ASCII digits within the id columns' range, else None.

    (str.isdigit() alone also accepts '²' and '٣', and an unbounded number overflows the database column.)"""
    value = (value or "").strip()
    if not value or len(value) > 10 or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def mask_fin(fin: str) -> str:
    """First and last character of a FİN, the rest hidden: 5ZK4R9P → 5Z****P."""
    return fin[:2] + "****" + fin[-1:] if len(fin) == 7 else "*******"
