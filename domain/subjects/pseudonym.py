"""Pseudonyms: the only name a sequestered subject has outside the Director's office
[seed: Confidentiality II.B].

A pseudonym is drawn from `secrets`, so it says nothing about the person and cannot be
guessed from another one: 8 symbols of Crockford's base32 (which leaves out the
look-alikes I, L, O and U) carry 40 random bits, written `SQ-7F3K-Q9XM` so that it
can be read aloud and typed from paper.
"""

from __future__ import annotations

import re
import secrets

from domain.errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "SQ"
GROUPS = 2
GROUP_SIZE = 4
RANDOM_BITS = GROUPS * GROUP_SIZE * 5
FORMAT_HINT = "a pseudonym looks like SQ-7F3K-Q9XM (SQ, then two groups of four letters or digits)"

_PATTERN = re.compile(rf"{PREFIX}(?:-[{ALPHABET}]{{{GROUP_SIZE}}}){{{GROUPS}}}")
_MAX_INPUT = 32


def new_pseudonym() -> str:
    """A fresh random pseudonym; the caller checks it against those already issued."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_SIZE))
    groups = [symbols[i : i + GROUP_SIZE] for i in range(0, len(symbols), GROUP_SIZE)]
    return "-".join([PREFIX, *groups])


def check_pseudonym(value: object) -> str:
    """The canonical (upper-case) pseudonym, or `InvalidInput`.

    Used on path parameters: anything but the exact shape (slashes, dots, spaces,
    control characters, look-alike letters, trailing newlines) is refused. The
    message never echoes the input, which might be a name typed in the wrong field.
    """
    if not isinstance(value, str) or len(value) > _MAX_INPUT or not value.isascii():
        raise InvalidInput(f"malformed pseudonym: {FORMAT_HINT}")
    canonical = value.upper()
    if _PATTERN.fullmatch(canonical) is None:
        raise InvalidInput(f"malformed pseudonym: {FORMAT_HINT}")
    return canonical
