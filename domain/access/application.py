"""The access context's application service: grants, revocations, break-glass, reviews.

Each write saves the grant or break-glass together with the ledger of the staff
member's access to that chart, so `facts_for` can hand the decision point every grant
and break-glass straight from the log: a revocation counts from the moment it commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.access.grants import (
    AccessLedger,
    BreakGlass,
    BreakGlassBlock,
    Grant,
    block_id,
    ledger_id,
)
from domain.access.policy import BreakGlassFact, Decision, GrantFact
from domain.base import ContextApplication, Infrastructure
from domain.errors import InvalidInput, LinkRefusal, NotFound, PermissionDenied

DEFAULT_BREAK_GLASS_MINUTES = 240
MAX_BREAK_GLASS_MINUTES = 24 * 60
#: Only clinicians invoke break-glass (and only if their job title charts).
BREAK_GLASS_ROLES = frozenset({"clinician"})
PRIVACY_OFFICER = frozenset({"privacy_officer"})
DIRECTOR = frozenset({"director"})


def require_role(roles: Iterable[str], allowed: frozenset[str], rule: str, what: str) -> None:
    if allowed.isdisjoint(roles):
        raise PermissionDenied(rule, f"only {' or '.join(sorted(allowed))} may {what}")


def grant_fact(grant: Grant) -> GrantFact:
    """The decision point's view of a grant."""
    return grant.to_fact()


def break_glass_fact(invocation: BreakGlass) -> BreakGlassFact:
    """The decision point's view of a break-glass invocation."""
    return invocation.to_fact()


class AccessApplication(ContextApplication):
    name = "access"

    def __init__(
        self,
        infrastructure: Infrastructure,
        break_glass_minutes: int = DEFAULT_BREAK_GLASS_MINUTES,
    ) -> None:
        if not 1 <= break_glass_minutes <= MAX_BREAK_GLASS_MINUTES:
            raise InvalidInput(
                f"the break-glass time limit must be between 1 and {MAX_BREAK_GLASS_MINUTES} "
                f"minutes (got {break_glass_minutes})"
            )
        super().__init__(infrastructure)
        self.break_glass_duration = timedelta(minutes=break_glass_minutes)

    def grant(
        self,
        grantee: str,
        pseudonym: str,
        subject_id: UUID,
        scope: str,
        purpose: str,
        expires_at: datetime,
        justification: str,
        granted_by: str,
        now: datetime,
        *,
        actor_roles: Iterable[str],
    ) -> tuple[UUID, int]:
        """A privacy officer grants chart access; returns the grant id and log position."""
        require_role(actor_roles, PRIVACY_OFFICER, "privacy_officer_only", "grant chart access")
        ledger = self._ledger(grantee, pseudonym, subject_id)
        grant = Grant.issue(
            grant_id=uuid4(),
            subject_id=subject_id,
            grantee=grantee,
            pseudonym=pseudonym,
            scope=scope,
            purpose=purpose,
            expires_at=expires_at,
            justification=justification,
            granted_by=granted_by,
            granted_at=now,
        )
        ledger.record_grant(grant.id)
        return grant.id, self.commit(grant, ledger)

    def revoke(
        self, grant_id: UUID, by: str, reason: str, now: datetime, *, actor_roles: Iterable[str]
    ) -> int:
        require_role(actor_roles, PRIVACY_OFFICER, "privacy_officer_only", "revoke chart access")
        grant = self.get_grant(grant_id)
        grant.revoke(by, reason, now)
        return self.commit(grant)

    def confirm(
        self, grant_id: UUID, by: str, now: datetime, link_denial: Decision | None, *,
        actor_roles: Iterable[str],
    ) -> int:
        """The Director's office confirms a pending grant; refused while a rule resting
        on the staff↔client link forbids the grantee this access (`link_denial`, which
        the caller evaluates): such a grant is declined instead."""
        require_role(actor_roles, DIRECTOR, "director_only", "confirm chart access")
        grant = self.get_grant(grant_id)
        if link_denial is not None:
            raise LinkRefusal(link_denial.rule, f"grant {grant_id} cannot be confirmed: "
                              f"{link_denial.explanation}; decline it instead")
        grant.confirm(by, now)
        return self.commit(grant)

    def decline(
        self, grant_id: UUID, by: str, reason: str, now: datetime, *, actor_roles: Iterable[str]
    ) -> int:
        """The Director's office declines a pending grant (or ends a confirmed one it
        reviews); others are told no reason."""
        require_role(actor_roles, DIRECTOR, "director_only", "decline chart access")
        grant = self.get_grant(grant_id)
        grant.decline(by, reason, now)
        return self.commit(grant)

    def get_grant(self, grant_id: UUID, version: int | None = None) -> Grant:
        grant: Grant = self.load(grant_id, f"grant {grant_id}", version, kind=Grant)
        return grant

    def invoke_break_glass(
        self,
        clinician: str,
        pseudonym: str,
        subject_id: UUID,
        purpose: str,
        reason: str,
        now: datetime,
        *,
        actor_roles: Iterable[str],
    ) -> tuple[UUID, int]:
        """Emergency access, time-limited by the setting and flagged for review."""
        require_role(actor_roles, BREAK_GLASS_ROLES, "clinician_only", "invoke break-glass")
        ledger = self._ledger(clinician, pseudonym, subject_id)
        invocation = BreakGlass.invoke(
            break_glass_id=uuid4(),
            subject_id=subject_id,
            clinician=clinician,
            pseudonym=pseudonym,
            purpose=purpose,
            reason=reason,
            invoked_at=now,
            duration=self.break_glass_duration,
        )
        ledger.record_break_glass(invocation.id)
        return invocation.id, self.commit(invocation, ledger)

    def review_break_glass(
        self,
        break_glass_id: UUID,
        reviewer: str,
        outcome: str,
        notes: str,
        now: datetime,
        *,
        actor_roles: Iterable[str],
    ) -> int:
        require_role(actor_roles, PRIVACY_OFFICER, "privacy_officer_only", "review break-glass use")
        invocation = self.get_break_glass(break_glass_id)
        invocation.review(reviewer, outcome, notes, now)
        if outcome != "inappropriate":
            return self.commit(invocation)
        block = self.block_of(invocation.clinician)
        block.block(invocation.id, now)
        return self.commit(invocation, block)

    def block_of(self, staff_id: str) -> BreakGlassBlock:
        """The staff member's break-glass block record, opened on first use."""
        found = self.load_many(block_id(staff_id)).get(block_id(staff_id))
        return found if isinstance(found, BreakGlassBlock) else BreakGlassBlock(staff_id=staff_id)

    def is_blocked(self, staff_id: str) -> bool:
        found = self.current_many(block_id(staff_id)).get(block_id(staff_id))
        return isinstance(found, BreakGlassBlock) and found.blocked

    def lift_block(
        self, staff_id: str, by: str, reason: str, now: datetime, *, actor_roles: Iterable[str]
    ) -> int:
        """The privacy officer lets a blocked clinician invoke break-glass again."""
        require_role(actor_roles, PRIVACY_OFFICER, "privacy_officer_only",
                     "lift a break-glass block")
        block = self.block_of(staff_id)
        block.lift(by, reason, now)
        return self.commit(block)

    def get_break_glass(self, break_glass_id: UUID, version: int | None = None) -> BreakGlass:
        invocation: BreakGlass = self.load(
            break_glass_id, f"break-glass {break_glass_id}", version, kind=BreakGlass
        )
        return invocation

    def facts_for(
        self, staff_id: str, pseudonym: str
    ) -> tuple[tuple[GrantFact, ...], tuple[BreakGlassFact, ...]]:
        """Every grant and break-glass the staff member holds on the chart, in any state."""
        try:
            ledger = self.load(ledger_id(staff_id, pseudonym), "access ledger", kind=AccessLedger)
        except NotFound:
            return (), ()
        return self.held(ledger)

    def held(
        self, ledger: AccessLedger, found: Mapping[UUID, Any] | None = None
    ) -> tuple[tuple[GrantFact, ...], tuple[BreakGlassFact, ...]]:
        """Every grant and break-glass a ledger names, in any state: those not already
        `found` (read for reading only) are read in one query."""
        found = dict(found or {})
        named = (*ledger.grant_ids, *ledger.break_glass_ids)
        found |= self.current_many(*(i for i in named if i not in found))
        return (tuple(grant_fact(found[g]) for g in ledger.grant_ids),
                tuple(break_glass_fact(found[b]) for b in ledger.break_glass_ids))

    def _ledger(self, staff_id: str, pseudonym: str, subject_id: UUID) -> AccessLedger:
        """The staff member's ledger on the chart, opened on first use."""
        lid = ledger_id(staff_id, pseudonym)
        if not self.recorder.select_events(lid, limit=1):
            return AccessLedger(staff_id=staff_id, pseudonym=pseudonym, subject_id=subject_id)
        ledger: AccessLedger = self.load(lid, f"access ledger of {staff_id} on {pseudonym}")
        ledger.require_subject(subject_id)
        return ledger
