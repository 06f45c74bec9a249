"""Staff ids: the identifiers identity providers issue, in one canonical form.

A staff id is the value of the token claim that names the person (`sub` by default):
an email (Okta's default `sub`, or an `email` claim), `auth0|5f3c…`, a UUID (Entra's
`oid`, Keycloak's `sub`), or an agency's own number (`C-001`). The characters allowed
are letters, digits and `. _ - + | @ : = ~ '`, up to 255, starting with a letter or
digit: no space, control character, slash, backslash, `%`, `?` or `#`, so an id is one
path segment once percent-encoded, one token in a log line, and a plain bound
parameter in SQL (never part of a statement's text).

An id holding `@` is an email and is kept in lower case, so `Alice@Agency.example`
and `alice@agency.example` are one person. Every other id is kept exactly as issued:
providers' opaque ids (Okta's `00u1ab…`) are case-sensitive.
"""

from __future__ import annotations

import re

from domain.errors import InvalidInput

MAX_STAFF_ID = 255
STAFF_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+|@:=~'-]{0,254}$"
_STAFF_ID = re.compile(STAFF_ID_PATTERN)
DESCRIPTION = (
    f"1 to {MAX_STAFF_ID} letters, digits and . _ - + | @ : = ~ ' starting with a letter "
    "or digit (an email, auth0|…, a UUID, or the agency's own number)"
)


def canonical_form(value: str) -> str:
    """`value` in canonical form, unchecked: emails (ids holding `@`) in lower case."""
    return value.lower() if "@" in value else value


def is_staff_id(value: str) -> bool:
    return _STAFF_ID.fullmatch(value) is not None


def canonical_staff_id(value: str) -> str:
    """The canonical form of a staff id (emails in lower case); InvalidInput, which
    never echoes the value, if it is not one."""
    if not is_staff_id(value):
        raise InvalidInput(f"malformed staff id: a staff id is {DESCRIPTION}")
    return canonical_form(value)
