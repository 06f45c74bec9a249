"""Principals for tests: sequester's staff record decides who holds a role (a token
only claims roles), so a test's token is a staff member's on staff holding those roles.
A member the test has not hired itself is hired first (`on_staff`), straight through
the staff application, so no HTTP request and no audit record of the test's is added."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path

from ops.bootstrap import System
from ops.keys.tokens import sign_development_token
from ops.settings import Settings

#: The catalogue title a test's staff member is hired into, by its first role.
TITLES = {
    "director": "director", "clinical_deputy": "clinical_deputy",
    "county_counsel": "county_counsel", "privacy_officer": "privacy_officer",
    "auditor": "auditor", "hr": "hr_specialist", "manager": "program_manager",
    "clinician": "clinician", "peer_staff": "recovery_support_specialist",
}
HIRED_ON = date(2020, 1, 6)


def on_staff(system: System, staff_id: str, roles: Collection[str]) -> None:
    """`staff_id` on staff holding at least `roles`: hired if it is not on the staff
    record yet, given the roles it lacks if it is (tokens with no role hire no one)."""
    if not roles:
        return
    if not system.staff.exists(staff_id):
        system.staff.hire(staff_id, staff_id, TITLES[min(roles)], sorted(roles), HIRED_ON)
        return
    held = system.staff.get(staff_id).roles
    if not set(roles) <= set(held):
        system.staff.assign_roles(staff_id, sorted({*held, *roles}))


def token_headers(key_dir: Path, sub: str, roles: Collection[str], ttl: int = 300) -> dict[str, str]:
    """The Authorization header of a development token (no one is hired)."""
    settings = Settings()
    token = sign_development_token(key_dir, sub=sub, roles=list(roles),
                                   issuer=settings.jwt_issuer,
                                   audience=settings.jwt_audience, ttl=ttl)
    return {"Authorization": f"Bearer {token}"}


def staff_tokens(key_dir: Path, system: System) -> Callable[..., dict[str, str]]:
    """`make(sub, *roles)`: the headers of a staff member of `system` on staff with
    `roles` (see `on_staff`)."""

    def make(sub: str, *roles: str, ttl: int = 300) -> dict[str, str]:
        on_staff(system, sub, roles)
        return token_headers(key_dir, sub, roles, ttl)

    return make
