"""Chart access: gather one decision's facts from the staff, subjects and access
contexts, then `decide()`.

The staff↔client link is only ever compared as keyed hashes (DESIGN §3 item 6): the
principal's own link, the links of the staff it supervises, and the subject's link.
Nothing here returns which of those matched; `Decision.public()` hides it further.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from domain.access.application import AccessApplication
from domain.access.policy import AccessFacts, Decision, GroupSpan, Principal, Target, decide
from domain.errors import NotFound
from domain.staff.application import StaffApplication
from domain.subjects.application import SubjectsApplication


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
        subject = self.subjects.get(pseudonym)
        grants, break_glass = self.access.facts_for(staff_id, pseudonym)
        own_groups = [g for s in self.subjects.subjects_linked_to(staff_id) for g in s.groups]
        return AccessFacts(
            principal_link=self.link_of(staff_id),
            subject_link=subject.staff_link,
            has_current_agreement=self._has_agreement(staff_id, today),
            supervisee_links=frozenset(self.link_of(s) for s in self.staff.supervisees(staff_id)),
            principal_client_groups=spans(own_groups),
            subject_groups=spans(subject.groups),
            grants=grants,
            break_glass=break_glass,
        )

    def _has_agreement(self, staff_id: str, today: date) -> bool:
        try:
            member = self.staff.get(staff_id)
        except NotFound:
            return False
        return bool(member.has_current_agreement(self.required_agreement_version, today))

    def decide(
        self, principal: Principal, action: str, pseudonym: str, purpose: str, now: datetime
    ) -> Decision:
        facts = self.facts(principal.staff_id, pseudonym, now.date())
        return decide(principal, action, Target(pseudonym, purpose), facts, now)
