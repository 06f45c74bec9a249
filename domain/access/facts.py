"""Chart access: gather one decision's facts from the staff, subjects and access
contexts, then decide.

A read or write decision (`assess_all`) rests on facts only: the subject, the
principal's staff record (its agreement), and its grants and break-glass uses on the
chart. Every aggregate it rests on is read from the log as it stands (never from a read
model, and from the decoded copies of `current_many` only once the log confirms they are
still current), so a revocation counts the moment it commits. They are read in one
query: the subject, the principal's ledger on the chart, its staff record, and the
grants and break-glass uses the ledger named when last read (a ledger that names more
since takes a second). It reads the same aggregates whether or not anyone is linked to
anyone, so neither its answer nor its work depends on a link.

The link facts (`links`) are gathered only for the Director's office's confirmation of
a grant, its review queue, and break-glass (see `domain.access.policy`); the link is
only ever compared as keyed hashes (DESIGN §3 item 6).

An ask may carry the roles its token *claims* (`ChartAsk.roles_needed`): the staff
record read in that same query then settles them (`domain.staff.authority`), so a chart
read learns who holds which role without a query of its own, and a separation counts
on the very next read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID

from domain.access.application import AccessApplication
from domain.access.grants import AccessLedger, ledger_id
from domain.access.policy import (
    AccessFacts,
    Decision,
    GroupSpan,
    LinkFacts,
    Principal,
    Target,
    decide,
    decide_break_glass,
    link_denial,
)
from domain.charts.aggregate import Chart, chart_uuid
from domain.errors import DataShredded, KeyUnavailable, NotFound, TamperDetected
from domain.staff.aggregate import StaffMember, staff_uuid
from domain.staff.application import StaffApplication
from domain.staff.authority import effective_roles, require_one_of
from domain.staff.roster import ROSTER_ID, StaffRoster
from domain.subjects.application import SubjectsApplication
from domain.subjects.identity import StaffLinkIndex, link_index_uuid
from domain.subjects.subject import Subject, subject_uuid


class Assessment(NamedTuple):
    subject: Subject
    decision: Decision
    chart: Chart | None  # asked for, and the decision allows the action
    principal: Principal | None = None  # as decided on (its roles settled, if they were claimed)


class UnknownSubject(NotFound):
    """No subject has the pseudonym asked for; carries the principal as decided on, whose
    roles say whether it may learn that."""

    def __init__(self, detail: str, principal: Principal) -> None:
        super().__init__(detail)
        self.principal = principal


#: Errors in one subject's stored data: they must not fail other subjects' decisions.
SUBJECT_DATA_ERRORS = (DataShredded, KeyUnavailable, TamperDetected)


class _Wanted(NamedTuple):
    staff_id: str
    pseudonym: str
    ids: tuple[UUID, ...]  # subject, ledger, staff record, then any


class ChartAsk(NamedTuple):
    """A principal's `action` on one chart, to be decided (`ChartAccess.assess_all`)."""
    principal: Principal
    action: str
    pseudonym: str
    purpose: str
    now: datetime
    with_chart: bool = False  # the chart too, if the decision allows the action
    #: None: `principal.roles` are its effective roles already. A set: they are the roles
    #: its token claims, settled against the staff record read in the decision's query,
    #: and the settled roles must hold one of these (else PermissionDenied "role").
    roles_needed: frozenset[str] | None = None


def spans(groups: Iterable[dict[str, Any]]) -> tuple[GroupSpan, ...]:
    return tuple(GroupSpan(g["group_id"], g["from"], g["to"]) for g in groups)


class ChartAccess:
    def __init__(
        self,
        staff: StaffApplication,
        subjects: SubjectsApplication,
        access: AccessApplication,
        link_of: Callable[[str], str],
        required_agreement_version: str | None = None,
    ) -> None:
        self.staff, self.subjects, self.access = staff, subjects, access
        self.link_of = link_of
        self.required_agreement_version = required_agreement_version

    def facts(self, staff_id: str, pseudonym: str, today: date) -> AccessFacts:
        return self.assess(staff_id, pseudonym, today)[1]

    def assess(self, staff_id: str, pseudonym: str, today: date) -> tuple[Subject, AccessFacts]:
        """The subject (NotFound if none) and the facts of a decision on its chart."""
        wanted = self._wanted(staff_id, pseudonym, ())
        return self._facts(wanted, today, self.subjects.current_many(*wanted.ids))

    def _wanted(self, staff_id: str, pseudonym: str, also: tuple[UUID, ...]) -> _Wanted:
        sid, lid, mid = subject_uuid(pseudonym), ledger_id(staff_id, pseudonym), staff_uuid(staff_id)
        hint = self.subjects.known(lid)  # the grants it named last time, read alongside
        named = (*hint.grant_ids, *hint.break_glass_ids) if isinstance(hint, AccessLedger) else ()
        return _Wanted(staff_id, pseudonym, (sid, lid, mid, *named, *also))

    def _facts(self, wanted: _Wanted, today: date, found: dict[UUID, Any]
               ) -> tuple[Subject, AccessFacts]:
        """The subject and the facts, from the aggregates read for `wanted`."""
        sid, lid, mid = wanted.ids[:3]
        subject = found.get(sid)
        if not isinstance(subject, Subject):
            raise NotFound(f"subject {wanted.pseudonym} does not exist")
        ledger, member = found.get(lid), found.get(mid)
        grants, uses = self.access.held(ledger, found) if isinstance(ledger, AccessLedger) else ((), ())
        return subject, AccessFacts(
            has_current_agreement=isinstance(member, StaffMember) and bool(
                member.has_current_agreement(self.required_agreement_version, today)
            ),
            grants=grants,
            break_glass=uses,
        )

    def decide(
        self, principal: Principal, action: str, pseudonym: str, purpose: str, now: datetime
    ) -> Decision:
        return self.assess_decision(principal, action, pseudonym, purpose, now)[1]

    def assess_decision(
        self, principal: Principal, action: str, pseudonym: str, purpose: str, now: datetime,
        *, with_chart: bool = False,
    ) -> Assessment:
        """The subject and the decision on the principal's `action` on its chart; with
        `with_chart`, the chart too (read in the decision's own query), given only if
        the decision allows the action."""
        (assessed,) = self.assess_all([ChartAsk(principal, action, pseudonym, purpose, now,
                                                with_chart)])
        if isinstance(assessed, Exception):
            raise assessed
        return assessed

    def assess_all(self, asks: Sequence[ChartAsk]) -> list[Assessment | Exception]:
        """`assess_decision` for each ask, or the error it raises, with the aggregates
        of them all read in one query (concurrent reads share it)."""
        wanted: list[_Wanted | Exception] = []
        for ask in asks:
            try:
                also = (chart_uuid(ask.pseudonym),) if ask.with_chart else ()
                wanted.append(self._wanted(ask.principal.staff_id, ask.pseudonym, also))
            except Exception as e:  # noqa: BLE001 - that ask's error
                wanted.append(e)
        try:
            found = self.subjects.current_many(
                *dict.fromkeys(i for w in wanted if isinstance(w, _Wanted) for i in w.ids))
        except SUBJECT_DATA_ERRORS:
            if len(asks) == 1:
                raise
            # One subject's data cannot be read (shredded, say): each ask on its own,
            # so that error is its ask's alone and the others are still decided.
            return [self._alone(ask, w) for ask, w in zip(asks, wanted, strict=True)]
        return [w if isinstance(w, Exception) else self._assessed(ask, w, found)
                for ask, w in zip(asks, wanted, strict=True)]

    def _alone(self, ask: ChartAsk, wanted: _Wanted | Exception) -> Assessment | Exception:
        if isinstance(wanted, Exception):
            return wanted
        try:
            found = self.subjects.current_many(*wanted.ids)
        except SUBJECT_DATA_ERRORS as e:
            return e
        return self._assessed(ask, wanted, found)

    def _assessed(self, ask: ChartAsk, wanted: _Wanted, found: dict[UUID, Any]
                  ) -> Assessment | Exception:
        try:
            principal = settled(ask, found.get(wanted.ids[2]))
            subject, facts = self._facts(wanted, ask.now.date(), found)
        except NotFound as e:
            return UnknownSubject(e.detail, principal)
        except Exception as e:  # noqa: BLE001 - that ask's error (PermissionDenied, DataShredded…)
            return e
        decision = decide(principal, ask.action, Target(ask.pseudonym, ask.purpose), facts,
                          ask.now)
        chart = found.get(chart_uuid(ask.pseudonym)) if ask.with_chart and decision.allowed else None
        return Assessment(subject, decision, chart if isinstance(chart, Chart) else None,
                          principal)

    # -- the link: Director's office rules and break-glass only ----------------------------

    def links(self, staff_id: str, pseudonym: str) -> LinkFacts:
        """The keyed-hash link facts between a staff member and a subject."""
        link = self.link_of(staff_id)
        sid, xid = subject_uuid(pseudonym), link_index_uuid(link)
        found = self.subjects.current_many(sid, xid, ROSTER_ID)
        subject = found.get(sid)
        if not isinstance(subject, Subject):
            raise NotFound(f"subject {pseudonym} does not exist")
        index, roster = found.get(xid), found.get(ROSTER_ID)
        own = self.subjects.linked(index) if isinstance(index, StaffLinkIndex) else []
        supervisees = roster.supervisees(staff_id) if isinstance(roster, StaffRoster) else []
        return LinkFacts(
            principal_link=link,
            subject_link=subject.staff_link,
            supervisee_links=frozenset(self.link_of(s) for s in supervisees),
            principal_client_groups=spans(g for s in own for g in s.groups),
            subject_groups=spans(subject.groups),
        )

    def link_denial(self, staff_id: str, pseudonym: str, purpose: str, today: date
                    ) -> Decision | None:
        """The link rule that forbids the staff member this access, if any (for the
        Director's office: confirming a grant, and its review queue)."""
        return link_denial(Target(pseudonym, purpose), self.links(staff_id, pseudonym), today)

    def break_glass(self, principal: Principal, pseudonym: str, purpose: str, now: datetime
                    ) -> tuple[Subject, Decision]:
        """The subject and whether the principal may invoke break-glass on its chart."""
        subject, facts = self.assess(principal.staff_id, pseudonym, now.date())
        member = self.staff.current_many(staff_uuid(principal.staff_id)).get(
            staff_uuid(principal.staff_id))
        decision = decide_break_glass(
            Target(pseudonym, purpose), facts, self.links(principal.staff_id, pseudonym),
            charts=isinstance(member, StaffMember) and member.charts,
            blocked=self.access.is_blocked(principal.staff_id), now=now,
        )
        return subject, decision


def settled(ask: ChartAsk, member: object) -> Principal:
    """The ask's principal with its effective roles (see `ChartAsk.roles_needed`)."""
    if ask.roles_needed is None:
        return ask.principal
    staff_id = ask.principal.staff_id
    roles = effective_roles(staff_id, ask.principal.roles,
                            member if isinstance(member, StaffMember) else None, ask.now.date())
    require_one_of(roles, ask.roles_needed)
    return Principal(staff_id, roles)
