"""Where a claim sits in a token: `SEQUESTER_JWT_ROLES_CLAIM` and
`SEQUESTER_JWT_STAFF_ID_CLAIM`.

A dotted path (`realm_access.roles`) names nested objects; a value that starts with `/`
is a JSON Pointer (RFC 6901: `~1` is `/`, `~0` is `~`), which can name claims that hold
dots or slashes: `/https:~1~1agency.example~1roles`, `/resource_access/sequester.api/roles`.
"""

from __future__ import annotations

from typing import Any

ABSENT = object()


class ClaimShapeError(ValueError):
    """An object on the path holds something else than an object."""


def parse_claim_path(text: str) -> tuple[str, ...]:
    """The claim names along the path; ValueError naming what is wrong."""
    if text.startswith("/"):
        raw = text[1:].split("/")
        if any(_bad_escape(segment) for segment in raw):
            raise ValueError(f"{text!r} is not a JSON Pointer: '~' must be followed by 0 or 1")
        parts = [segment.replace("~1", "/").replace("~0", "~") for segment in raw]
    else:
        parts = text.split(".")
    if not parts or any(p == "" for p in parts):
        raise ValueError(f"{text!r} has an empty claim name (a dotted path like "
                         "'realm_access.roles', or a JSON Pointer like '/realm_access/roles')")
    return tuple(parts)


def _bad_escape(segment: str) -> bool:
    return any(c == "~" and segment[i + 1:i + 2] not in ("0", "1") for i, c in enumerate(segment))


def claim_at(claims: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at `path`, or ABSENT; ClaimShapeError if an object on the way is not one."""
    value: Any = claims
    for depth, name in enumerate(path):
        if not isinstance(value, dict):
            raise ClaimShapeError(f"token claim {'.'.join(path[:depth])!r} is not an object")
        if name not in value:
            return ABSENT
        value = value[name]
    return value


def with_claim(claims: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`claims` with `value` set at `path` (objects created on the way)."""
    target = claims
    for name in path[:-1]:
        target = target.setdefault(name, {})
    target[path[-1]] = value
    return claims
