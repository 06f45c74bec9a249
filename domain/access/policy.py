"""The policy decision point for chart access: pure functions, no I/O.

Default deny. A chart is read or written only through a live grant, confirmed by the
Director's office, or through a live break-glass; and never without a current signed
confidentiality agreement. That is all a read or write decision (`decide`) looks at:
facts everyone concerned may know (grants, agreements, break-glass), never the
staff↔client link (DESIGN §3 item 6). So what a principal, an auditor or a privacy
officer sees of a decision cannot tell them whether anyone is linked to anyone.

The three rules that rest on the link (the grantee is the subject, attends a group with
it, or supervises it and the access is clinical) are enforced where only the Director's
office sees the outcome, or where the outcome is the one documented residual channel:
- a grant takes effect only once the Director's office confirms it, and confirmation
  is refused while a link rule applies (`link_denial`), so a linked grantee's grant is
  declined (for no stated reason) instead of refused at the next read;
- a link that arises after confirmation puts the grant before the Director's office at
  once (its review queue evaluates `link_denial` live) rather than cutting access at the
  next read, which would let the grantee time the change (README, threat model);
- break-glass (`decide_break_glass`) never passes a link rule: a linked clinician's
  refusal is the one residual channel.
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
RULE_BREAK_GLASS_BLOCKED = "break_glass_blocked"
RULE_NOT_CHARTING_TITLE = "not_charting_title"
RULE_GRANT_EXPIRED = "grant_expired"
RULE_GRANT_REVOKED = "grant_revoked"
RULE_GRANT_UNCONFIRMED = "grant_unconfirmed"
RULE_GRANT_DECLINED = "grant_declined"
RULE_NO_GRANT = "no_grant"
#: Every rule that evaluates the staff↔client link (here and in the subjects context).
#: Outside the Director's office each reads as the one generic `sequestration`.
LINK_RULES = frozenset(
    {RULE_SELF_ACCESS, RULE_GROUP_CO_MEMBER, RULE_SUPERVISOR_AS_CLINICIAN, "self_clinician"}
)
RULE_SEQUESTRATION = "sequestration"
SEQUESTRATION_EXPLANATION = (
    "Denied: this chart is sequestered and the agency's sequestration policy forbids "
    "this access; the Director's office can review the decision."
)


def public_rule(rule: str) -> str:
    """The name of a rule as anyone outside the Director's office may see it."""
    return RULE_SEQUESTRATION if rule in LINK_RULES else rule


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
    confirmed_at: datetime | None = None
    declined_at: datetime | None = None

    def matches(self, action: str, purpose: str) -> bool:
        """Scope covers the action (`write` implies `read`) and the purpose is the same."""
        return (action == "read" or self.scope == "write") and self.purpose == purpose

    def is_live(self, now: datetime) -> bool:
        """Confirmed by the Director's office, never revoked or declined (both final),
        and not yet at its expiry."""
        return (self.confirmed_at is not None and self.confirmed_at <= now
                and self.declined_at is None and self.revoked_at is None
                and now < self.expires_at)

    def is_pending(self, now: datetime) -> bool:
        """Still waiting for the Director's office, and not yet expired or ended."""
        return (self.confirmed_at is None and self.declined_at is None
                and self.revoked_at is None and now < self.expires_at)

    def status(self, now: datetime) -> str:
        """pending, live, expired, declined or revoked."""
        if self.is_live(now):
            return "live"
        if self.is_pending(now):
            return "pending"
        return ("expired", "declined", "revoked")[self.ended_at()[1]]

    def ended_at(self) -> tuple[datetime, int]:
        """When a dead grant stopped counting (the first of its expiry, decline and
        revocation) and how: 2 revoked, 1 declined, 0 expired. A revocation or decline
        names the end whenever it came, since both are final."""
        ends = [at for at in (self.expires_at, self.declined_at, self.revoked_at) if at]
        how = 2 if self.revoked_at is not None else 1 if self.declined_at is not None else 0
        return min(ends), how


@dataclass(frozen=True)
class BreakGlassFact:
    break_glass_id: str
    purpose: str
    invoked_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None  # a review found the use inappropriate

    def is_live(self, now: datetime) -> bool:
        ended = self.ended_at is not None and self.ended_at <= now
        return self.invoked_at <= now < self.expires_at and not ended


@dataclass(frozen=True)
class AccessFacts:
    """What a read or write decision rests on: facts, not links."""

    has_current_agreement: bool
    grants: tuple[GrantFact, ...] = ()
    break_glass: tuple[BreakGlassFact, ...] = ()


@dataclass(frozen=True)
class LinkFacts:
    """The staff↔client link, as keyed hashes and derived group spans (Director's office
    rules only: confirmation, its review queue, break-glass)."""

    principal_link: str
    subject_link: str | None
    supervisee_links: frozenset[str] = frozenset()
    principal_client_groups: tuple[GroupSpan, ...] = ()
    subject_groups: tuple[GroupSpan, ...] = ()


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
        if self.rule not in LINK_RULES:
            return self
        return Decision(False, RULE_SEQUESTRATION, SEQUESTRATION_EXPLANATION)

    def view_for(self, roles: Iterable[str]) -> Decision:
        return self if "director" in set(roles) else self.public()


def deny(rule: str, explanation: str, grant_id: str | None = None) -> Decision:
    return Decision(False, rule, explanation, grant_id=grant_id)


def decide(
    principal: Principal, action: str, target: Target, facts: AccessFacts, now: datetime
) -> Decision:
    """Allow or deny `action` on the target chart at `now`, naming the deciding rule.

    `principal` is carried for the caller's audit record; whether its roles may touch
    charts at all is the API's permission check, made before this decision. The
    signature has no link in it on purpose: see the module docstring.
    """
    check_action(action)
    check_purpose(target.purpose)
    check_aware(now, "the decision time")
    if not facts.has_current_agreement:
        return NO_AGREEMENT
    return evaluate_grants(action, target, facts, now)


NO_AGREEMENT = deny(
    RULE_NO_AGREEMENT,
    "Denied: the requesting staff member has no current signed confidentiality "
    "agreement, so no chart access is effective until one is signed.",
)


def evaluate_grants(action: str, target: Target, facts: AccessFacts, now: datetime) -> Decision:
    """Grant first, then break-glass, then why no grant counts."""
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
    return deny_without_grant(action, target, matching, now)


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


def deny_without_grant(
    action: str, target: Target, matching: list[GrantFact], now: datetime
) -> Decision:
    pending = [g for g in matching if g.is_pending(now)]
    if pending:
        return deny(
            RULE_GRANT_UNCONFIRMED,
            f"Denied: grant {pending[0].grant_id} for purpose {target.purpose} takes effect "
            "once the Director's office confirms it; ask the privacy officer about it.",
            grant_id=pending[0].grant_id,
        )
    if not matching:
        return deny(
            RULE_NO_GRANT,
            f"Denied: no grant gives {action} access for purpose {target.purpose} on this "
            "chart, and no emergency access is in effect; ask the privacy officer for one.",
        )
    last = max(matching, key=GrantFact.ended_at)
    at, how = last.ended_at()
    rule, words = (
        (RULE_GRANT_EXPIRED, "expired"),
        (RULE_GRANT_DECLINED, "was declined by the Director's office"),
        (RULE_GRANT_REVOKED, "was revoked"),
    )[how]
    return deny(
        rule,
        f"Denied: grant {last.grant_id} for purpose {last.purpose} {words} at "
        f"{at.isoformat()}; ask the privacy officer for a new one.",
        grant_id=last.grant_id,
    )


# -- the rules that rest on the link (Director's office and break-glass only) ---------

LinkRule = Callable[[Target, LinkFacts, date], Decision | None]


def self_access(target: Target, links: LinkFacts, today: date) -> Decision | None:
    if links.subject_link is None or links.principal_link != links.subject_link:
        return None
    return deny(
        RULE_SELF_ACCESS,
        "the staff member is the subject of this sequestered chart; staff never open "
        "their own sequestered chart through staff access",
    )


def group_co_member(target: Target, links: LinkFacts, today: date) -> Decision | None:
    current = {s.group_id for s in links.principal_client_groups if s.covers(today)}
    shared = any(
        mine.group_id in current and mine.overlaps(theirs)
        for mine in links.principal_client_groups
        for theirs in links.subject_groups
    )
    if not shared:
        return None
    return deny(
        RULE_GROUP_CO_MEMBER,
        "the staff member still takes part, as a service recipient, in a group that the "
        "subject of this chart attended at the same time (seed: Confidentiality I.D)",
    )


def supervisor_as_clinician(target: Target, links: LinkFacts, today: date) -> Decision | None:
    if links.subject_link is None or links.subject_link not in links.supervisee_links:
        return None
    if target.purpose not in CLINICAL_PURPOSES:
        return None
    return deny(
        RULE_SUPERVISOR_AS_CLINICIAN,
        f"the staff member supervises the subject of this chart and cannot also be its "
        f"clinician (clinical purpose {target.purpose}; seed: Supervisory relationship B)",
    )


#: The link rules, in the order they are evaluated.
LINK_DENY_RULES: tuple[LinkRule, ...] = (self_access, group_co_member, supervisor_as_clinician)


def link_denial(target: Target, links: LinkFacts, today: date) -> Decision | None:
    """The first link rule that forbids the staff member this access, if any."""
    check_purpose(target.purpose)
    for rule in LINK_DENY_RULES:
        denial = rule(target, links, today)
        if denial is not None:
            return denial
    return None


def decide_break_glass(
    target: Target, facts: AccessFacts, links: LinkFacts, *, charts: bool, blocked: bool,
    now: datetime,
) -> Decision:
    """Whether a clinician may invoke emergency access: its job title charts, it is not
    blocked after an inappropriate use, it has a current agreement, and no link rule
    forbids it (break-glass never passes a deny rule)."""
    check_aware(now, "the invocation time")
    if target.purpose not in EMERGENCY_PURPOSES:
        raise InvalidInput(
            f"break-glass purpose {target.purpose!r} is not an emergency purpose; "
            f"use one of {sorted(EMERGENCY_PURPOSES)}"
        )
    if not charts:
        return deny(RULE_NOT_CHARTING_TITLE, "Denied: break-glass is for clinicians whose job "
                    "title charts; ask a treating clinician or the privacy officer.")
    if blocked:
        return deny(RULE_BREAK_GLASS_BLOCKED, "Denied: a review found an earlier use of "
                    "break-glass inappropriate; the privacy officer can lift the block.")
    if not facts.has_current_agreement:
        return NO_AGREEMENT
    denial = link_denial(target, links, now.date())
    if denial is not None:
        return denial
    return Decision(True, RULE_BREAK_GLASS, "Allowed: emergency access, flagged for review.",
                    break_glass=True)
