"""Community Support Teams (CST) and Assertive Community Treatment (ACT) teams [seed:
Medicaid billing I.B]: Rule 132 requires a CRSS on each team, and team services are
billed under the team's code.

Membership is dated: a member is on the team from `joined_on` up to the day before
`left_on` (the first day off the team). A team with no member who is, that day, a CRSS
in good standing is incomplete; `team_status` says since when, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ProtectedAggregate
from domain.errors import InvalidInput, NotFound, RuleViolation
from domain.staff.dates import ONE_DAY, merge_periods

TEAM_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:team")
TEAM_KINDS = ("CST", "ACT")


def team_uuid(team_id: str) -> UUID:
    return uuid5(TEAM_NAMESPACE, team_id)


@dataclass(frozen=True)
class Membership:
    staff_id: str
    joined_on: date
    left_on: date | None = None

    def last_day(self, separated_on: date | None = None) -> date | None:
        """The last day on the team: the day before leaving it or the agency."""
        ends = [d for d in (self.left_on, separated_on) if d is not None]
        return min(ends) - ONE_DAY if ends else None


class Team(ProtectedAggregate):
    """One CST or ACT team and its dated membership."""

    @staticmethod
    def create_id(team_id: str, **_: Any) -> UUID:
        return team_uuid(team_id)

    @event("Formed")
    def __init__(self, team_id: str, kind: str, name: str, formed_on: date) -> None:
        self.team_id = team_id
        self.kind = kind
        self.name = name
        self.formed_on = formed_on
        self.members: list[Membership] = []

    @classmethod
    def form(cls, team_id: str, kind: str, name: str, formed_on: date) -> Team:
        if kind not in TEAM_KINDS:
            raise InvalidInput(f"team kind must be one of {list(TEAM_KINDS)}")
        if not team_id.strip() or not name.strip():
            raise InvalidInput("team_id and name must not be blank")
        return cls(team_id, kind, name.strip(), formed_on)

    def _open_membership(self, staff_id: str) -> int | None:
        return next((n for n, m in enumerate(self.members)
                     if m.staff_id == staff_id and m.left_on is None), None)

    def join(self, staff_id: str, joined_on: date) -> None:
        if joined_on < self.formed_on:
            raise InvalidInput(
                f"team {self.team_id} was formed on {self.formed_on}, after {joined_on}"
            )
        if self._open_membership(staff_id) is not None:
            raise RuleViolation("already_a_member", f"{staff_id} is on team {self.team_id}")
        earlier = [m.left_on for m in self.members if m.staff_id == staff_id and m.left_on]
        if earlier and joined_on < max(earlier):
            raise InvalidInput(f"{staff_id} left team {self.team_id} on {max(earlier)}")
        self._join(staff_id, joined_on)

    @event("MemberJoined")
    def _join(self, staff_id: str, joined_on: date) -> None:
        self.members.append(Membership(staff_id, joined_on))

    def leave(self, staff_id: str, left_on: date) -> None:
        number = self._open_membership(staff_id)
        if number is None:
            raise NotFound(f"{staff_id} is not on team {self.team_id}")
        if left_on < self.members[number].joined_on:
            raise InvalidInput(f"{staff_id} joined team {self.team_id} after {left_on}")
        self._leave(number, left_on)

    @event("MemberLeft")
    def _leave(self, number: int, left_on: date) -> None:
        self.members[number] = replace(self.members[number], left_on=left_on)

    def members_on(self, day: date) -> list[str]:
        return sorted({m.staff_id for m in self.members
                       if m.joined_on <= day and (m.left_on is None or day < m.left_on)})


@dataclass(frozen=True)
class MemberCredential:
    """What team status needs to know about a member: when its CRSS was in good
    standing (empty if it holds none) and when, if ever, it left the agency."""

    standing: tuple[tuple[date, date], ...] = ()
    separated_on: date | None = None


@dataclass(frozen=True)
class TeamStatus:
    as_of: date
    complete: bool
    crss_members: tuple[str, ...]
    incomplete_since: date | None
    reason: str | None


def _coverage(m: Membership, cred: MemberCredential) -> list[tuple[date, date]]:
    """Days on which this membership put a CRSS in good standing on the team."""
    last = m.last_day(cred.separated_on) or date.max
    return [(max(m.joined_on, s), min(last, e)) for s, e in cred.standing
            if max(m.joined_on, s) <= min(last, e)]


def team_status(team: Team, credentials: Mapping[str, MemberCredential], as_of: date
                ) -> TeamStatus:
    """Whether the team includes a CRSS on `as_of` (Rule 132) and, if not, since when."""
    covered = {
        m.staff_id: _coverage(m, credentials.get(m.staff_id, MemberCredential()))
        for m in team.members
    }
    on_duty = tuple(sorted(s for s, spans in covered.items()
                           if any(a <= as_of <= b for a, b in spans)))
    if on_duty:
        return TeamStatus(as_of, True, on_duty, None, None)
    before = [span for span in merge_periods(p for spans in covered.values() for p in spans)
              if span[1] < as_of]
    if not before:
        return TeamStatus(as_of, False, (), team.formed_on, "the team has never included a CRSS")
    last = before[-1][1]
    return TeamStatus(as_of, False, (), last + ONE_DAY, _why(team, credentials, covered, last))


def _why(team: Team, credentials: Mapping[str, MemberCredential],
         covered: Mapping[str, list[tuple[date, date]]], last: date) -> str:
    """Why the CRSS coverage that ended on `last` ended: who left, separated or lapsed."""
    after = last + ONE_DAY
    causes = []
    for m in team.members:
        if not any(b == last for _, b in covered[m.staff_id]):
            continue
        separated = credentials.get(m.staff_id, MemberCredential()).separated_on
        if m.left_on == after:
            causes.append(f"{m.staff_id} left the team on {after}")
        elif separated == after:
            causes.append(f"{m.staff_id} left the agency on {after}")
        else:
            causes.append(f"the CRSS of {m.staff_id} lapsed on {after}")
    return "; ".join(causes)
