"""The rules of a dual-relationship case, as pure functions over plain values.

Source: the Santa Barbara County procedure quoted in the seed [Dual relationships, Policy
development]: staff may neither initiate nor maintain romantic or sexual relationships with
clients the department serves, nor with those closed within the past two years; employees hired
with prior such relationships must promptly report them to their manager, who works with the
Clinical Deputy; resolution is guided by County Counsel and decided at the Director's discretion.

The settings that agencies differ on (the look-back, the reporting window, the queue's due
dates) live in `DualRelationshipPolicy`, so a peer-support code of ethics that forbids such a
relationship with anyone who was ever a client is one setting away (`lookback_months=None`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from domain.dates import PLANNED_AHEAD, plausible_day
from domain.errors import InvalidInput, PermissionDenied, RuleViolation

KINDS = ("social", "romantic", "sexual", "financial", "other")
#: The kinds the two-year rule covers.
INTIMATE_KINDS = frozenset({"romantic", "sexual"})
CASE_STATUSES = ("open", "closed")
OUTCOMES = ("exception_with_conditions", "reassign", "relationship_must_end", "no_conflict")
#: What the Director may decide on a relationship the two-year rule prohibits.
OUTCOMES_WHEN_PROHIBITED = ("exception_with_conditions", "reassign", "relationship_must_end")

#: Which roles may take each step after the disclosure (the disclosure itself is checked by
#: `require_discloser`: the staff member, or a manager on its behalf).
STEP_ROLES: dict[str, tuple[str, ...]] = {
    "refer": ("manager",),
    "guidance": ("county_counsel",),
    "waiver": ("clinical_deputy", "director"),
    "recommendation": ("clinical_deputy",),
    "decision": ("director",),
    "condition_met": ("manager", "clinical_deputy", "director"),
    "close": ("clinical_deputy", "director"),
}


#: Roles that handle (and read) every case; roles that also read the free text of its steps
#: and the two-year rule's finding.
SEE_ALL = frozenset({"clinical_deputy", "director"})
SEE_TEXT = SEE_ALL | {"county_counsel"}
#: The words of every refusal to read or step a case, whether or not it exists (an id that
#: names no case must read exactly as a case the caller may not handle).
NOT_YOURS = (
    "dual-relationship case {case_id} is for the Director's office, the Clinical Deputy, County"
    " Counsel once referred, the manager it was disclosed to or recorded by, and the staff"
    " member"
)


@dataclass(frozen=True)
class Actor:
    """Who takes a step: a staff id and the roles its token carries."""

    staff_id: str
    roles: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class DualRelationshipPolicy:
    """The agency's settings for dual-relationship cases.

    `lookback_months`: how long after a client's case closes a romantic or sexual relationship
    stays prohibited (24: the county's two years; None: forever, as peer-support ethics codes
    have it). `report_within_days`: how soon after hire a prior relationship must be reported.
    The `*_within_days` due dates feed the Clinical Deputy's queue; they are never stored.
    """

    lookback_months: int | None = 24
    report_within_days: int = 30
    refer_within_days: int = 5
    guidance_within_days: int = 14
    recommend_within_days: int = 14
    decide_within_days: int = 14

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value is not None and value < 0:
                raise InvalidInput(f"the policy setting {name} must be zero or more")


@dataclass(frozen=True)
class Disclosure:
    """What the staff member disclosed. The counterpart is a pseudonym (a sequestered subject
    known here) or the agency's own client number, never both; for a pseudonym the caller
    supplies the case status and closing date from the chart."""

    staff_id: str
    kind: str
    began_on: date
    predates_hire: bool
    disclosed_on: date
    disclosed_to: str
    hired_on: date
    counterpart_case_status: str
    counterpart_pseudonym: str | None = None
    counterpart_client_ref: str | None = None
    counterpart_case_closed_on: date | None = None
    ended_on: date | None = None
    #: a pseudonym that names no subject here (its case is taken as open); the discloser
    #: is never told, so a disclosure cannot probe which pseudonyms exist
    counterpart_unknown: bool = False


def not_yours(case_id: object) -> PermissionDenied:
    return PermissionDenied("dual_relationship_reader", NOT_YOURS.format(case_id=case_id))


@dataclass(frozen=True)
class TwoYearFinding:
    """Whether the two-year rule prohibits the relationship, and why, in words."""

    prohibited: bool
    reason: str


def add_months(day: date, months: int) -> date:
    """`day` plus whole calendar months; the 29th-31st clamp to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def lookback_words(policy: DualRelationshipPolicy) -> str:
    if policy.lookback_months is None:
        return "a look-back without end"
    return f"a {policy.lookback_months}-month look-back"


def two_year_rule(
    kind: str,
    case_status: str,
    case_closed_on: date | None,
    began_on: date,
    ended_on: date | None,
    policy: DualRelationshipPolicy,
) -> TwoYearFinding:
    """Prohibited: a romantic or sexual relationship with a current client, or one whose
    relationship (began_on..ended_on, or still ongoing) overlaps the look-back window
    [case_closed_on, case_closed_on + lookback) after the client's case closed."""
    if kind not in INTIMATE_KINDS:
        return TwoYearFinding(False, f"a {kind} relationship is not covered by the two-year rule")
    if case_status == "open":
        return TwoYearFinding(True, f"a {kind} relationship with a current client (case open)")
    assert case_closed_on is not None  # check_counterpart guarantees it for a closed case
    if ended_on is not None and ended_on < case_closed_on:
        return TwoYearFinding(
            False, f"the relationship ended before the client's case closed on {case_closed_on}"
        )
    window = lookback_words(policy)
    if policy.lookback_months is not None:
        window_ends = add_months(case_closed_on, policy.lookback_months)
        if began_on >= window_ends:
            return TwoYearFinding(
                False, f"the relationship began on or after {window_ends}, when {window} ended"
            )
    return TwoYearFinding(
        True,
        f"a {kind} relationship within {window} after the client's case closed on {case_closed_on}",
    )


def report_deadline(
    predates_hire: bool, hired_on: date, policy: DualRelationshipPolicy
) -> date | None:
    """The last day a relationship predating hire may be reported; None when it did not."""
    return hired_on + timedelta(days=policy.report_within_days) if predates_hire else None


def days_late(
    predates_hire: bool, hired_on: date, disclosed_on: date, policy: DualRelationshipPolicy
) -> int:
    """How many days after the reporting deadline the disclosure came (0: on time)."""
    deadline = report_deadline(predates_hire, hired_on, policy)
    if deadline is None or disclosed_on <= deadline:
        return 0
    return (disclosed_on - deadline).days


def require_role(step: str, actor: Actor) -> str:
    """The role that lets `actor` take `step`, or PermissionDenied("<step>_requires_<roles>")."""
    allowed = STEP_ROLES[step]
    for role in allowed:
        if role in actor.roles:
            return role
    needed = "_or_".join(allowed)
    raise PermissionDenied(
        f"{step}_requires_{needed}",
        f"staff member {actor.staff_id} may not record the {step.replace('_', ' ')} step of a"
        f" dual-relationship case: it needs the role {' or '.join(allowed)}",
    )


def require_discloser(actor: Actor, staff_id: str) -> str:
    """A disclosure comes from the staff member itself or a manager recording it for them."""
    if actor.staff_id == staff_id:
        return "self"
    if "manager" in actor.roles:
        return "manager"
    raise PermissionDenied(
        "disclose_requires_self_or_manager",
        f"staff member {actor.staff_id} may not disclose a relationship of staff member"
        f" {staff_id}: only that staff member or a manager may",
    )


def require_not_own_case(actor: Actor, staff_id: str, step: str) -> None:
    """Nobody reviews, decides or closes the case about their own relationship."""
    if actor.staff_id == staff_id:
        raise PermissionDenied(
            "self_review",
            f"staff member {actor.staff_id} may not record the {step.replace('_', ' ')} step of"
            " a case about their own relationship; another holder of the role must",
        )


def check_outcome(outcome: str, prohibited: bool) -> None:
    """A known outcome, and never `no_conflict` where the two-year rule prohibits."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"unknown outcome {outcome!r}; choose one of {list(OUTCOMES)}")
    if prohibited and outcome not in OUTCOMES_WHEN_PROHIBITED:
        raise RuleViolation(
            "two_year_rule",
            "the two-year rule prohibits this relationship, so it cannot be resolved as"
            f" no_conflict; choose one of {list(OUTCOMES_WHEN_PROHIBITED)}",
        )


def check_conditions(outcome: str, conditions: list[str]) -> list[str]:
    """An exception needs at least one condition; no condition may be blank."""
    if outcome == "exception_with_conditions" and not conditions:
        raise InvalidInput("an exception_with_conditions decision needs at least one condition")
    blank = [n for n, text in enumerate(conditions) if not text.strip()]
    if blank:
        raise InvalidInput(f"condition(s) {blank} are blank; state each condition in words")
    return [text.strip() for text in conditions]


def due_dates(
    disclosed_on: date,
    referred_on: date | None,
    guidance_on: date | None,
    recommended_on: date | None,
    policy: DualRelationshipPolicy,
) -> dict[str, date]:
    """When each step of the Clinical Deputy's queue falls due, for the steps whose
    prerequisites are recorded: referral after disclosure; guidance (or its waiver) and
    recommendation after referral; the decision after both."""
    due = {"referral": disclosed_on + timedelta(days=policy.refer_within_days)}
    if referred_on is not None:
        due["guidance"] = referred_on + timedelta(days=policy.guidance_within_days)
        due["recommendation"] = referred_on + timedelta(days=policy.recommend_within_days)
    if guidance_on is not None and recommended_on is not None:
        ready_on = max(guidance_on, recommended_on)
        due["decision"] = ready_on + timedelta(days=policy.decide_within_days)
    return due


def require_date(name: str, value: object, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(f"{name} must be a calendar date (YYYY-MM-DD)")


def _check_counterpart(d: Disclosure) -> None:
    given = [v for v in (d.counterpart_pseudonym, d.counterpart_client_ref) if v is not None]
    if len(given) != 1:
        raise InvalidInput(
            "name the counterpart by exactly one of counterpart_pseudonym (a sequestered"
            " subject known here) or counterpart_client_ref (the agency's client number)"
        )
    if not given[0].strip():
        raise InvalidInput("the counterpart's pseudonym or client number must not be blank")
    if d.counterpart_case_status not in CASE_STATUSES:
        raise InvalidInput(
            f"unknown counterpart_case_status {d.counterpart_case_status!r};"
            f" choose one of {list(CASE_STATUSES)}"
        )
    closed = d.counterpart_case_status == "closed"
    if closed and d.counterpart_case_closed_on is None:
        raise InvalidInput("a closed counterpart case needs counterpart_case_closed_on")
    if not closed and d.counterpart_case_closed_on is not None:
        raise InvalidInput("an open counterpart case must not have counterpart_case_closed_on")


def _check_dates(d: Disclosure, recorded_on: date) -> None:
    for name in ("began_on", "hired_on", "disclosed_on"):
        plausible_day(getattr(d, name), name, on=recorded_on, ahead=PLANNED_AHEAD)
    if d.ended_on is not None and d.ended_on < d.began_on:
        raise InvalidInput(f"ended_on {d.ended_on} is before began_on {d.began_on}")
    for name in ("began_on", "ended_on", "counterpart_case_closed_on"):
        value = getattr(d, name)
        if value is not None and value > d.disclosed_on:
            raise InvalidInput(f"{name} {value} is after disclosed_on {d.disclosed_on}")
    if d.disclosed_on > recorded_on:
        raise InvalidInput(
            f"disclosed_on {d.disclosed_on} is after the day of recording, {recorded_on}"
        )
    if d.predates_hire != (d.began_on < d.hired_on):
        raise InvalidInput(
            f"predates_hire is {d.predates_hire} but the relationship began on {d.began_on}"
            f" and the staff member was hired on {d.hired_on}"
        )


def check_disclosure(d: Disclosure, recorded_on: date) -> None:
    """Refuse a malformed disclosure with a message naming the field."""
    if not d.staff_id.strip() or not d.disclosed_to.strip():
        raise InvalidInput("staff_id and disclosed_to must not be blank")
    if d.disclosed_to == d.staff_id:
        raise InvalidInput("disclosed_to must be the staff member's manager, not the member")
    if d.kind not in KINDS:
        raise InvalidInput(f"unknown kind {d.kind!r}; choose one of {list(KINDS)}")
    if not isinstance(d.predates_hire, bool):
        raise InvalidInput("predates_hire must be true or false")
    for name in ("began_on", "disclosed_on", "hired_on"):
        require_date(name, getattr(d, name))
    for name in ("ended_on", "counterpart_case_closed_on"):
        require_date(name, getattr(d, name), optional=True)
    _check_counterpart(d)
    _check_dates(d, recorded_on)
