"""Who holds a role, and who may hand one out (DESIGN §1). This module owns both rules.

**Effective roles.** A token only *claims* roles. A principal holds a role when its
token claims it *and* its staff record holds it, and only while it is on staff: hired
on or before today and not separated (a separation takes effect on its date, which is
never after the day it is recorded). Anyone else is refused every protected route,
whatever its token says. So neither the identity provider nor sequester alone can make
a director: the provider's administrators must put the role in the token and HR or the
Director's office must put it in the staff record.

**Role grants.** No one hands out a role more powerful than their own. The Director's
office appoints the offices that see across the agency (the clinical deputy, county
counsel, the privacy officer, auditors) and the Director's office itself; HR hires
into the working roles and into HR. Taking a role away needs the same authority as
giving it, and no one changes their own roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Protocol

from domain.errors import PermissionDenied

RULE_NOT_STAFF = "not_staff"
RULE_SEPARATED = "separated"
RULE_ROLE_GRANT = "role_grant"
RULE_OWN_ROLES = "own_roles"

_DIRECTOR = frozenset({"director"})
_HR = frozenset({"director", "hr"})
#: role → the roles whose holders may grant it (or take it away)
GRANTED_BY: Mapping[str, frozenset[str]] = {
    "director": _DIRECTOR,
    "clinical_deputy": _DIRECTOR,
    "county_counsel": _DIRECTOR,
    "privacy_officer": _DIRECTOR,
    "auditor": _DIRECTOR,
    "hr": _HR,
    "manager": _HR,
    "clinician": _HR,
    "peer_staff": _HR,
}


class StaffRecord(Protocol):
    """What the rules read of a staff member (`domain.staff.aggregate.StaffMember`)."""

    staff_id: str
    roles: list[str]
    hired_on: date
    separated_on: date | None


def check_standing(staff_id: str, member: StaffRecord | None, today: date) -> None:
    """PermissionDenied unless `member` is the staff record of someone on staff today."""
    if member is None or member.hired_on > today:
        raise PermissionDenied(
            RULE_NOT_STAFF,
            f"{staff_id} is not on staff: sequester's staff record decides who holds a role, "
            "and HR has not hired this staff id (or its hire date is still to come)",
        )
    if member.separated_on is not None and member.separated_on <= today:
        raise PermissionDenied(
            RULE_SEPARATED, f"{staff_id} separated on {member.separated_on.isoformat()}"
        )


def effective_roles(staff_id: str, claimed: Iterable[str], member: StaffRecord | None,
                    today: date) -> frozenset[str]:
    """The roles both the token claims and the staff record holds, for someone on
    staff today; PermissionDenied (`not_staff`, `separated`) for anyone else."""
    check_standing(staff_id, member, today)
    assert member is not None
    return frozenset(claimed).intersection(member.roles)


def require_one_of(roles: frozenset[str], needed: frozenset[str]) -> None:
    """PermissionDenied ("role") unless `roles` holds one of `needed` (default deny)."""
    if not roles & needed:
        raise PermissionDenied("role", f"this action requires one of the roles {sorted(needed)}")


def grantable_by(actor_roles: Iterable[str]) -> frozenset[str]:
    """Every role that a holder of `actor_roles` may grant."""
    held = frozenset(actor_roles)
    return frozenset(role for role, grantors in GRANTED_BY.items() if grantors & held)


def check_grant(actor_roles: Iterable[str], roles: Iterable[str]) -> None:
    """PermissionDenied unless the actor may grant (or take away) every one of `roles`."""
    allowed = grantable_by(actor_roles)
    refused = sorted(set(roles) - allowed)
    if refused:
        grantors = "; ".join(f"{r} is granted by {' or '.join(sorted(GRANTED_BY[r]))}"
                             for r in refused if r in GRANTED_BY)
        raise PermissionDenied(
            RULE_ROLE_GRANT,
            f"no one hands out a role more powerful than their own: you may not grant or "
            f"remove {refused} ({grantors})",
        )


def check_role_change(actor_id: str, actor_roles: Iterable[str], staff_id: str,
                      before: Iterable[str], after: Iterable[str]) -> None:
    """The actor may change `staff_id`'s roles from `before` to `after`."""
    if actor_id == staff_id:
        raise PermissionDenied(RULE_OWN_ROLES, "no one changes their own roles")
    check_grant(actor_roles, set(before) ^ set(after))
