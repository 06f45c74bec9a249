"""Access grants, break-glass invocations, and the ledger that indexes them.

A `Grant` gives one staff member `read` or `write` access to one chart for one purpose
of use until an expiry; a revocation is final. A `BreakGlass` is a clinician's
time-limited emergency access, flagged from the start and reviewed once by the privacy
officer (HIPAA 164.312(a)(2)(ii)). An `AccessLedger` lists, per staff member and chart,
the ids of both, so the decision point reads them from the log itself: a revocation
takes effect at once, with no read model in between.

Every record is about the chart's subject, whose data key encrypts it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.access.policy import (
    EMERGENCY_PURPOSES,
    SCOPES,
    BreakGlassFact,
    GrantFact,
    check_aware,
    check_purpose,
)
from domain.base import ID_CACHE_SIZE, ProtectedAggregate
from domain.errors import InvalidInput, OutOfRange, RuleViolation
from domain.staff.aggregate import staff_uuid

REVIEW_OUTCOMES = frozenset({"appropriate", "inappropriate"})
LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:access-ledger")
BLOCK_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:break-glass-block")
#: The longest a grant may run: access is recertified at least once a year.
MAX_GRANT = timedelta(days=366)


def utc(value: datetime, what: str) -> datetime:
    """Aware and in UTC, so that replayed state compares equal whatever zone came in."""
    return check_aware(value, what).astimezone(UTC)


def require_text(value: str, what: str) -> str:
    if not value.strip():
        raise InvalidInput(f"{what} must not be blank")
    return value


class Grant(ProtectedAggregate):
    """A privacy officer's grant of chart access to one staff member."""

    @event("Granted")
    def __init__(
        self,
        id: UUID,  # the caller's uuid4 (the base class keeps it as self.id)
        subject_id: UUID,
        grantee: str,
        pseudonym: str,
        scope: str,
        purpose: str,
        expires_at: datetime,
        justification: str,
        granted_by: str,
        granted_at: datetime,
    ) -> None:
        self.subject_id = subject_id
        self.grantee = grantee
        self.pseudonym = pseudonym
        self.scope = scope
        self.purpose = purpose
        self.expires_at = expires_at
        self.justification = justification
        self.granted_by = granted_by
        self.granted_at = granted_at
        self.revoked_at: datetime | None = None
        self.revoked_by: str | None = None
        self.revocation_reason: str | None = None
        self.confirmed_at: datetime | None = None
        self.confirmed_by: str | None = None
        self.declined_at: datetime | None = None
        self.declined_by: str | None = None
        self.decline_reason: str | None = None

    @classmethod
    def issue(
        cls,
        grant_id: UUID,
        subject_id: UUID,
        grantee: str,
        pseudonym: str,
        scope: str,
        purpose: str,
        expires_at: datetime,
        justification: str,
        granted_by: str,
        granted_at: datetime,
    ) -> Grant:
        """Validate and record a new grant; the id is chosen by the caller (uuid4)."""
        require_text(grantee, "the grantee")
        require_text(pseudonym, "the chart pseudonym")
        require_text(justification, "the justification")
        require_text(granted_by, "the granting staff member")
        check_grant_terms(scope, purpose)
        granted_at = utc(granted_at, "the grant time")
        expires_at = utc(expires_at, "the expiry")
        if expires_at <= granted_at:
            raise InvalidInput(
                f"the expiry {expires_at.isoformat()} must be after the grant time "
                f"{granted_at.isoformat()}"
            )
        if expires_at > granted_at + MAX_GRANT:
            raise OutOfRange(
                f"the expiry must be at most {MAX_GRANT.days} days after the grant time "
                f"(at the latest {(granted_at + MAX_GRANT).isoformat()}): grants are "
                "recertified at least yearly"
            )
        if granted_by == grantee:
            raise RuleViolation(
                "self_grant", f"staff member {granted_by} cannot grant chart access to itself"
            )
        return cls(
            id=grant_id,
            subject_id=subject_id,
            grantee=grantee,
            pseudonym=pseudonym,
            scope=scope,
            purpose=purpose,
            expires_at=expires_at,
            justification=justification,
            granted_by=granted_by,
            granted_at=granted_at,
        )

    @property
    def data_subject_id(self) -> UUID:
        return self.subject_id

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_live(self, at: datetime) -> bool:
        return self.to_fact().is_live(at)

    def revoke(self, by: str, reason: str, at: datetime) -> None:
        """End the grant now; final, so a second revocation is refused."""
        require_text(by, "the revoking staff member")
        require_text(reason, "the reason for revoking")
        at = utc(at, "the revocation time")
        if self.revoked_at is not None:
            raise RuleViolation(
                "already_revoked",
                f"grant {self.id} was already revoked at {self.revoked_at.isoformat()}",
            )
        if at < self.granted_at:
            raise InvalidInput(f"grant {self.id} cannot be revoked before it was granted")
        self._revoke(by, reason, at)

    @event("Revoked")
    def _revoke(self, by: str, reason: str, at: datetime) -> None:
        self.revoked_by = by
        self.revocation_reason = reason
        self.revoked_at = at

    def status(self, at: datetime) -> str:
        """pending, live, expired, declined or revoked (what the privacy officer sees)."""
        return self.to_fact().status(at)

    def _require_awaiting(self, what: str, at: datetime, *, confirmed_too: bool) -> None:
        fact = self.to_fact()
        if fact.is_pending(at) or (confirmed_too and fact.is_live(at)):
            return
        raise RuleViolation(
            "grant_not_pending",
            f"grant {self.id} cannot be {what}: it is {self.status(at)}",
        )

    def confirm(self, by: str, at: datetime) -> None:
        """The Director's office confirms the grant: from now on it counts."""
        require_text(by, "the confirming staff member")
        at = utc(at, "the confirmation time")
        self._require_awaiting("confirmed", at, confirmed_too=False)
        self._confirm(by, at)

    @event("Confirmed")
    def _confirm(self, by: str, at: datetime) -> None:
        self.confirmed_by = by
        self.confirmed_at = at

    def decline(self, by: str, reason: str, at: datetime) -> None:
        """The Director's office declines a pending grant, or ends a confirmed one under
        review; final. The reason is the Director's office's alone."""
        require_text(by, "the declining staff member")
        at = utc(at, "the decline time")
        self._require_awaiting("declined", at, confirmed_too=True)
        self._decline(by, reason.strip(), at)

    @event("Declined")
    def _decline(self, by: str, reason: str, at: datetime) -> None:
        self.declined_by = by
        self.decline_reason = reason
        self.declined_at = at

    def to_fact(self) -> GrantFact:
        return GrantFact(
            grant_id=str(self.id),
            scope=self.scope,
            purpose=self.purpose,
            expires_at=self.expires_at,
            revoked_at=self.revoked_at,
            confirmed_at=self.confirmed_at,
            declined_at=self.declined_at,
        )


def check_grant_terms(scope: str, purpose: str) -> None:
    if scope not in SCOPES:
        raise InvalidInput(f"scope {scope!r} is not recognised; use 'read' or 'write'")
    check_purpose(purpose)
    if purpose in EMERGENCY_PURPOSES:
        raise RuleViolation(
            "emergency_purpose_not_grantable",
            f"purpose {purpose} is for emergencies: a clinician invokes break-glass instead",
        )


class BreakGlass(ProtectedAggregate):
    """A clinician's emergency access to a chart: time-limited, flagged, reviewed once."""

    @event("Invoked")
    def __init__(
        self,
        id: UUID,  # the caller's uuid4 (the base class keeps it as self.id)
        subject_id: UUID,
        clinician: str,
        pseudonym: str,
        purpose: str,
        reason: str,
        invoked_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.subject_id = subject_id
        self.clinician = clinician
        self.pseudonym = pseudonym
        self.purpose = purpose
        self.reason = reason
        self.invoked_at = invoked_at
        self.expires_at = expires_at
        self.flagged = True
        self.reviewed_by: str | None = None
        self.review_outcome: str | None = None
        self.review_notes: str | None = None
        self.reviewed_at: datetime | None = None

    @classmethod
    def invoke(
        cls,
        break_glass_id: UUID,
        subject_id: UUID,
        clinician: str,
        pseudonym: str,
        purpose: str,
        reason: str,
        invoked_at: datetime,
        duration: timedelta,
    ) -> BreakGlass:
        require_text(clinician, "the clinician")
        require_text(pseudonym, "the chart pseudonym")
        require_text(reason, "the reason for emergency access")
        if purpose not in EMERGENCY_PURPOSES:
            raise InvalidInput(
                f"break-glass purpose {purpose!r} is not an emergency purpose; "
                f"use one of {sorted(EMERGENCY_PURPOSES)}"
            )
        if duration <= timedelta(0):
            raise InvalidInput("the break-glass time limit must be positive")
        invoked_at = utc(invoked_at, "the invocation time")
        return cls(
            id=break_glass_id,
            subject_id=subject_id,
            clinician=clinician,
            pseudonym=pseudonym,
            purpose=purpose,
            reason=reason,
            invoked_at=invoked_at,
            expires_at=invoked_at + duration,
        )

    @property
    def data_subject_id(self) -> UUID:
        return self.subject_id

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None

    def review(self, reviewer: str, outcome: str, notes: str, at: datetime) -> None:
        """The privacy officer's one review; an inappropriate use must say why."""
        require_text(reviewer, "the reviewer")
        if outcome not in REVIEW_OUTCOMES:
            raise InvalidInput(
                f"review outcome {outcome!r} is not recognised; use {sorted(REVIEW_OUTCOMES)}"
            )
        if outcome == "inappropriate":
            require_text(notes, "the notes on an inappropriate use")
        at = utc(at, "the review time")
        self._require_reviewable(reviewer, at)
        self._review(reviewer, outcome, notes, at)

    def _require_reviewable(self, reviewer: str, at: datetime) -> None:
        if self.reviewed:
            raise RuleViolation("already_reviewed", f"break-glass {self.id} was already reviewed")
        if reviewer == self.clinician:
            raise RuleViolation(
                "self_review", f"staff member {reviewer} cannot review its own break-glass use"
            )
        if at < self.invoked_at:
            raise InvalidInput(f"break-glass {self.id} cannot be reviewed before it was invoked")

    @event("Reviewed")
    def _review(self, reviewer: str, outcome: str, notes: str, at: datetime) -> None:
        self.reviewed_by = reviewer
        self.review_outcome = outcome
        self.review_notes = notes
        self.reviewed_at = at

    def is_live(self, at: datetime) -> bool:
        return self.to_fact().is_live(at)

    @property
    def ended_at(self) -> datetime | None:
        """An inappropriate use ends when the review says so."""
        return self.reviewed_at if self.review_outcome == "inappropriate" else None

    def to_fact(self) -> BreakGlassFact:
        return BreakGlassFact(
            break_glass_id=str(self.id),
            purpose=self.purpose,
            invoked_at=self.invoked_at,
            expires_at=self.expires_at,
            ended_at=self.ended_at,
        )


@lru_cache(maxsize=ID_CACHE_SIZE)
def block_id(staff_id: str) -> UUID:
    """Deterministic: one break-glass block record per staff member."""
    return uuid5(BLOCK_NAMESPACE, staff_id)


class BreakGlassBlock(ProtectedAggregate):
    """Whether a clinician may invoke break-glass again: blocked by an inappropriate use,
    until the privacy officer lifts the block (the staff member is the data subject)."""

    @staticmethod
    def create_id(staff_id: str, **_: Any) -> UUID:
        return block_id(staff_id)

    @event("Opened")
    def __init__(self, staff_id: str) -> None:
        self.staff_id = staff_id
        self.blocked_by_use: UUID | None = None
        self.blocked_at: datetime | None = None
        self.lifted: list[dict[str, Any]] = []

    @property
    def data_subject_id(self) -> UUID:
        return staff_uuid(self.staff_id)

    @property
    def blocked(self) -> bool:
        return self.blocked_by_use is not None

    @event("Blocked")
    def block(self, break_glass_id: UUID, at: datetime) -> None:
        self.blocked_by_use = break_glass_id
        self.blocked_at = at

    def lift(self, by: str, reason: str, at: datetime) -> None:
        require_text(by, "the privacy officer lifting the block")
        require_text(reason, "the reason for lifting the block")
        at = utc(at, "the time the block is lifted")
        if not self.blocked:
            raise RuleViolation(
                "not_blocked", f"staff member {self.staff_id} is not blocked from break-glass"
            )
        if by == self.staff_id:
            raise RuleViolation("self_review", f"staff member {by} cannot lift its own block")
        self._lift(by, reason, at)

    @event("Lifted")
    def _lift(self, by: str, reason: str, at: datetime) -> None:
        self.lifted.append({"by": by, "reason": reason, "at": at,
                            "use": self.blocked_by_use})
        self.blocked_by_use = None
        self.blocked_at = None


@lru_cache(maxsize=ID_CACHE_SIZE)
def ledger_id(staff_id: str, pseudonym: str) -> UUID:
    """Deterministic: one ledger per staff member and chart."""
    return uuid5(LEDGER_NAMESPACE, f"{staff_id}\x1f{pseudonym}")


class AccessLedger(ProtectedAggregate):
    """The ids of every grant and break-glass one staff member holds on one chart."""

    @staticmethod
    def create_id(staff_id: str, pseudonym: str, **_: Any) -> UUID:
        return ledger_id(staff_id, pseudonym)

    @event("Opened")
    def __init__(self, staff_id: str, pseudonym: str, subject_id: UUID) -> None:
        self.staff_id = staff_id
        self.pseudonym = pseudonym
        self.subject_id = subject_id
        self.grant_ids: list[UUID] = []
        self.break_glass_ids: list[UUID] = []

    @property
    def data_subject_id(self) -> UUID:
        return self.subject_id

    def require_subject(self, subject_id: UUID) -> None:
        if subject_id != self.subject_id:
            raise RuleViolation(
                "pseudonym_subject_mismatch",
                f"chart {self.pseudonym} belongs to a different subject id than {subject_id}",
            )

    @event("GrantRecorded")
    def record_grant(self, grant_id: UUID) -> None:
        self.grant_ids.append(grant_id)

    @event("BreakGlassRecorded")
    def record_break_glass(self, break_glass_id: UUID) -> None:
        self.break_glass_ids.append(break_glass_id)
