"""The policy decision point for chart access: one pure function, `decide`.

Default deny. Deny rules are evaluated first and win over any grant or break-glass:
break-glass is an emergency path around a *missing grant*, never around a deny rule
(self-access, no agreement, group co-member, supervisor as clinician).

The three link-based rules need to know whether the principal is linked to the
subject (is the subject, attends a group with it, supervises it). That link is the
Director's office's secret [DESIGN §3 item 6], so the caller supplies only keyed
hashes and derived spans (`AccessFacts`), and a denial caused by a link is shown to
everyone but the Director's office as one generic sequestration denial (`public`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from domain.errors import InvalidInput

#: HL7 v3 PurposeOfUse codes this agency accepts for chart access.
PURPOSES = frozenset(
    {"TREAT", "ETREAT", "BTG", "CAREMGT", "COC", "HOPERAT", "HPAYMT", "HLEGAL", "HCOMPL"}
)
#: Purposes that make the access clinical [seed: Supervisory relationship B].
CLINICAL_PURPOSES = frozenset({"TREAT", "ETREAT", "BTG", "CAREMGT", "COC"})
#: Emergency purposes: reached through break-glass, never through a grant.
EMERGENCY_PURPOSES = frozenset({"ETREAT", "BTG"})
ACTIONS = frozenset({"read", "write"})
SCOPES = frozenset({"read", "write"})

RULE_SELF_ACCESS = "self_access"
RULE_NO_AGREEMENT = "no_confidentiality_agreement"
RULE_GROUP_CO_MEMBER = "group_co_member"
RULE_SUPERVISOR_AS_CLINICIAN = "supervisor_as_clinician"
RULE_GRANT = "grant"
RULE_BREAK_GLASS = "break_glass"
RULE_GRANT_EXPIRED = "grant_expired"
RULE_GRANT_REVOKED = "grant_revoked"
RULE_NO_GRANT = "no_grant"
#: Rules that evaluate the staff-client link; shown to non-directors as `sequestration`.
SEQUESTRATION_RULES = frozenset(
    {RULE_SELF_ACCESS, RULE_GROUP_CO_MEMBER, RULE_SUPERVISOR_AS_CLINICIAN}
)
RULE_SEQUESTRATION = "sequestration"
SEQUESTRATION_EXPLANATION = (
    "Denied: this chart is sequestered and the agency's sequestration policy forbids "
    "this access; the Director's office can review the decision."
)


def check_purpose(purpose: str) -> str:
    """The purpose of use, if it is one the agency knows; why: unknown codes grant nothing."""
    if purpose not in PURPOSES:
        raise InvalidInput(
            f"purpose of use {purpose!r} is not recognised; known HL7 PurposeOfUse codes "
            f"are {sorted(PURPOSES)}"
        )
    return purpose


def check_action(action: str) -> str:
    if action not in ACTIONS:
        raise InvalidInput(f"action {action!r} is not recognised; use 'read' or 'write'")
    return action


def check_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be a timezone-aware date and time")
    return value


@dataclass(frozen=True)
class Principal:
    staff_id: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Target:
    """A chart (by pseudonym) and the purpose of use the principal declares."""

    pseudonym: str
    purpose: str


@dataclass(frozen=True)
class GroupSpan:
    """A participation in a group as a service recipient; `to` inclusive, None = ongoing."""

    group_id: str
    from_: date
    to: date | None = None

    def covers(self, day: date) -> bool:
        return self.from_ <= day and (self.to is None or day <= self.to)

    def overlaps(self, other: GroupSpan) -> bool:
        return (
            self.group_id == other.group_id
            and (other.to is None or self.from_ <= other.to)
            and (self.to is None or other.from_ <= self.to)
        )


@dataclass(frozen=True)
class GrantFact:
    """One of the principal's grants on the chart, in whatever state it is."""

    grant_id: str
    scope: str
    purpose: str
    expires_at: datetime
    revoked_at: datetime | None = None

    def matches(self, action: str, purpose: str) -> bool:
        """Scope covers the action (`write` implies `read`) and the purpose is the same."""
        return (action == "read" or self.scope == "write") and self.purpose == purpose

    def is_live(self, now: datetime) -> bool:
        """Never revoked (a revocation is final) and not yet at its expiry."""
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class BreakGlassFact:
    break_glass_id: str
    purpose: str
    invoked_at: datetime
    expires_at: datetime

    def is_live(self, now: datetime) -> bool:
        return self.invoked_at <= now < self.expires_at


@dataclass(frozen=True)
class AccessFacts:
    """What the caller knows about the principal and the chart, links as keyed hashes."""

    principal_link: str
    subject_link: str | None
    has_current_agreement: bool
    supervisee_links: frozenset[str] = frozenset()
    principal_client_groups: tuple[GroupSpan, ...] = ()
    subject_groups: tuple[GroupSpan, ...] = ()
    grants: tuple[GrantFact, ...] = ()
    break_glass: tuple[BreakGlassFact, ...] = ()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str
    explanation: str
    grant_id: str | None = None
    break_glass: bool = False
    break_glass_id: str | None = None

    def public(self) -> Decision:
        """What a reader outside the Director's office may see: link rules are merged."""
        if self.rule not in SEQUESTRATION_RULES:
            return self
        return Decision(False, RULE_SEQUESTRATION, SEQUESTRATION_EXPLANATION)

    def view_for(self, roles: Iterable[str]) -> Decision:
        return self if "director" in set(roles) else self.public()


def deny(rule: str, explanation: str, grant_id: str | None = None) -> Decision:
    return Decision(False, rule, explanation, grant_id=grant_id)


DenyRule = Callable[[str, Target, AccessFacts, datetime], Decision | None]


def self_access(action: str, target: Target, facts: AccessFacts, now: datetime) -> Decision | None:
    if facts.subject_link is None or facts.principal_link != facts.subject_link:
        return None
    return deny(
        RULE_SELF_ACCESS,
        "Denied: the requesting staff member is the subject of this sequestered chart; "
        "staff never open their own sequestered chart through staff access.",
    )


def no_agreement(action: str, target: Target, facts: AccessFacts, now: datetime) -> Decision | None:
    if facts.has_current_agreement:
        return None
    return deny(
        RULE_NO_AGREEMENT,
        "Denied: the requesting staff member has no current signed confidentiality "
        "agreement, so no chart access is effective until one is signed.",
    )


def group_co_member(
    action: str, target: Target, facts: AccessFacts, now: datetime
) -> Decision | None:
    today = now.date()
    current = {s.group_id for s in facts.principal_client_groups if s.covers(today)}
    shared = any(
        mine.group_id in current and mine.overlaps(theirs)
        for mine in facts.principal_client_groups
        for theirs in facts.subject_groups
    )
    if not shared:
        return None
    return deny(
        RULE_GROUP_CO_MEMBER,
        "Denied: the requesting staff member still takes part, as a service recipient, in a "
        "group that the subject of this chart attended at the same time (seed: "
        "Confidentiality I.D).",
    )


def supervisor_as_clinician(
    action: str, target: Target, facts: AccessFacts, now: datetime
) -> Decision | None:
    if facts.subject_link is None or facts.subject_link not in facts.supervisee_links:
        return None
    if target.purpose not in CLINICAL_PURPOSES:
        return None
    return deny(
        RULE_SUPERVISOR_AS_CLINICIAN,
        f"Denied: the requesting staff member supervises the subject of this chart and "
        f"cannot also be its clinician (clinical purpose {target.purpose}; seed: "
        "Supervisory relationship B).",
    )


#: Deny rules, in the order they are evaluated.
DENY_RULES: tuple[DenyRule, ...] = (
    self_access,
    no_agreement,
    group_co_member,
    supervisor_as_clinician,
)


def decide(
    principal: Principal, action: str, target: Target, facts: AccessFacts, now: datetime
) -> Decision:
    """Allow or deny `action` on the target chart at `now`, naming the deciding rule.

    `principal` is carried for the caller's audit record; whether its roles may touch
    charts at all is the API's permission check, made before this decision.
    """
    check_action(action)
    check_purpose(target.purpose)
    check_aware(now, "the decision time")
    for rule in DENY_RULES:
        denial = rule(action, target, facts, now)
        if denial is not None:
            return denial
    return evaluate_grants(action, target, facts, now)


def evaluate_grants(action: str, target: Target, facts: AccessFacts, now: datetime) -> Decision:
    """Grant first, then break-glass, then the most recent reason a grant stopped counting."""
    matching = [g for g in facts.grants if g.matches(action, target.purpose)]
    live = sorted((g for g in matching if g.is_live(now)), key=lambda g: g.expires_at)
    if live:
        best = live[-1]
        return Decision(
            True,
            RULE_GRANT,
            f"Allowed: grant {best.grant_id} gives {best.scope} access for purpose "
            f"{best.purpose} until {best.expires_at.isoformat()}.",
            grant_id=best.grant_id,
        )
    emergency = allow_break_glass(target, facts, now)
    if emergency is not None:
        return emergency
    return deny_without_grant(action, target, matching)


def allow_break_glass(target: Target, facts: AccessFacts, now: datetime) -> Decision | None:
    """A live break-glass covers reads and writes for an emergency purpose only."""
    if target.purpose not in EMERGENCY_PURPOSES:
        return None
    live = sorted((b for b in facts.break_glass if b.is_live(now)), key=lambda b: b.expires_at)
    if not live:
        return None
    best = live[-1]
    return Decision(
        True,
        RULE_BREAK_GLASS,
        f"Allowed by emergency access (break-glass) {best.break_glass_id}, in effect until "
        f"{best.expires_at.isoformat()}; this use is flagged for the privacy officer's review.",
        break_glass=True,
        break_glass_id=best.break_glass_id,
    )


def deny_without_grant(action: str, target: Target, matching: list[GrantFact]) -> Decision:
    if not matching:
        return deny(
            RULE_NO_GRANT,
            f"Denied: no grant gives {action} access for purpose {target.purpose} on this "
            "chart, and no emergency access is in effect.",
        )
    last = max(matching, key=ended_at)
    if last.revoked_at is not None:
        return deny(
            RULE_GRANT_REVOKED,
            f"Denied: grant {last.grant_id} for purpose {last.purpose} was revoked at "
            f"{last.revoked_at.isoformat()}.",
            grant_id=last.grant_id,
        )
    return deny(
        RULE_GRANT_EXPIRED,
        f"Denied: grant {last.grant_id} for purpose {last.purpose} expired at "
        f"{last.expires_at.isoformat()}.",
        grant_id=last.grant_id,
    )


def ended_at(grant: GrantFact) -> tuple[datetime, bool]:
    """When a dead grant stopped counting; a revocation wins a tie."""
    if grant.revoked_at is not None and grant.revoked_at <= grant.expires_at:
        return (grant.revoked_at, True)
    return (grant.expires_at, grant.revoked_at is not None)
