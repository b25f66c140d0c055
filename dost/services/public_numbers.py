"""Public numbers of registrations and notices: random, so they disclose no volume and cannot be enumerated;
short, read aloud and typed without ambiguity; with a check character that catches a typo.

Form: DSMF-<year>-XXXX-XXXX. The eight characters are seven random symbols of Crockford's base 32 (digits and
upper-case letters without I, L, O and U) and a Luhn mod 32 check symbol, which catches every single mistyped
character and every swap of two neighbours. 32^7 (34 billion) numbers a year: a collision is drawn again.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_SYMBOLS = 7
PREFIX = "DSMF"
NUMBER_RE = re.compile(rf"{PREFIX}-(\d{{4}})-([{ALPHABET}]{{4}})-([{ALPHABET}]{{4}})")
# What people type for a symbol that is not in the alphabet (Crockford's decoding rules).
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_TYPED_RE = re.compile(r"DSMF(\d{4})([0-9A-Z]{8})")


def check_symbol(symbols: str) -> str:
    """The Luhn mod 32 check symbol of a string of the alphabet's symbols."""
    base = len(ALPHABET)
    total = 0
    factor = 2
    for symbol in reversed(symbols):
        addend = factor * ALPHABET.index(symbol)
        total += addend // base + addend % base
        factor = 1 if factor == 2 else 2
    return ALPHABET[(base - total % base) % base]


def is_valid_code(code: str) -> bool:
    """Whether eight symbols end in the right check symbol."""
    return (len(code) == RANDOM_SYMBOLS + 1 and all(symbol in ALPHABET for symbol in code)
            and check_symbol(code[:-1]) == code[-1])


def new_number(year: int) -> str:
    """A fresh random public number of the year."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_SYMBOLS))
    code = body + check_symbol(body)
    return f"{PREFIX}-{year:04d}-{code[:4]}-{code[4:]}"


def normalize(typed: str) -> str | None:
    """A typed number in its printed form (case, spaces, dashes and look-alike letters do not matter), or None
    when it cannot be one of this form."""
    folded = unicodedata.normalize("NFKC", typed or "").upper()
    compact = "".join(ch for ch in folded if ch.isascii() and ch.isalnum())
    match = _TYPED_RE.fullmatch(compact)
    if match is None:
        return None
    year, code = match.groups()
    code = code.translate(_LOOK_ALIKES)
    return f"{PREFIX}-{year}-{code[:4]}-{code[4:]}"


def typo_suspected(number: str) -> bool:
    """A number of the right form whose check symbol does not fit: a typo, not an unknown number."""
    match = NUMBER_RE.fullmatch(number)
    return match is not None and not is_valid_code(match.group(2) + match.group(3))
