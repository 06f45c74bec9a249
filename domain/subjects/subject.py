"""The sequestered subject: a person whose chart is kept under a pseudonym
[seed: Confidentiality II.A–B], with security labels, group participation as a
service recipient, and assigned clinicians.

Nothing here names the person. The link to a staff member is kept only as a keyed
hash (`staff_link`), so the events say *that* a subject is linked to some staff
member only to whoever holds the Director's office key (DESIGN §3 item 6).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ID_CACHE_SIZE, KEK_EVENTS, ProtectedAggregate
from domain.errors import InvalidInput, LinkRefusal, RuleViolation

SUBJECT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:subject")

CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOCAL_SYSTEM = "urn:sequester:label"

CONFIDENTIALITY_CODES = ("R", "V")
PROGRAM_LABELS = ("PSY", "ETH", "SUD", "42CFRPart2")
#: Sensitivity label per category; HL7 has no code for the two "relative of" categories.
CATEGORY_SENSITIVITY: dict[str, dict[str, str]] = {
    "employee": {"system": ACT_CODE_SYSTEM, "code": "EMP"},
    "employee_relative": {"system": LOCAL_SYSTEM, "code": "EMPREL"},
    "public_figure": {"system": ACT_CODE_SYSTEM, "code": "CEL"},
    "public_figure_relative": {"system": LOCAL_SYSTEM, "code": "CELREL"},
}
CATEGORIES = tuple(CATEGORY_SENSITIVITY)
#: Categories whose subject may be linked to a staff member (the employee, or the employee's relative).
LINKABLE_CATEGORIES = ("employee", "employee_relative")

#: What a non-director sees when a rule about the staff link refuses something.
SEQUESTRATION_DENIAL = (
    "this assignment is not permitted under the sequestration policy; "
    "the Director's office can explain"
)


@lru_cache(maxsize=ID_CACHE_SIZE)
def subject_uuid(pseudonym: str) -> UUID:
    """A subject's aggregate id: deterministic, so a pseudonym names one subject."""
    return uuid5(SUBJECT_NAMESPACE, pseudonym)


def check_category(category: str) -> str:
    if category not in CATEGORY_SENSITIVITY:
        raise InvalidInput(f"unknown category; known categories are {list(CATEGORIES)}")
    return category


def check_confidentiality(code: str) -> dict[str, str]:
    if code not in CONFIDENTIALITY_CODES:
        raise InvalidInput(f"confidentiality must be one of {list(CONFIDENTIALITY_CODES)}")
    return {"system": CONFIDENTIALITY_SYSTEM, "code": code}


def program_labels(codes: Iterable[str]) -> list[dict[str, str]]:
    """Program labels (HL7 ActCode), validated, de-duplicated, in a stable order."""
    wanted = set(codes)
    unknown = sorted(wanted - set(PROGRAM_LABELS))
    if unknown:
        raise InvalidInput(
            f"unknown program label(s) {unknown}; known labels are {list(PROGRAM_LABELS)}"
        )
    return [{"system": ACT_CODE_SYSTEM, "code": c} for c in PROGRAM_LABELS if c in wanted]


def labels_for(
    category: str, programs: Iterable[str], confidentiality: str
) -> list[dict[str, str]]:
    """The security labels of a new subject: confidentiality, sensitivity, programs."""
    return [
        check_confidentiality(confidentiality),
        dict(CATEGORY_SENSITIVITY[check_category(category)]),
        *program_labels(programs),
    ]


def check_day(value: object, field: str) -> date:
    """A calendar date (a datetime is refused: it would smuggle a clock time in)."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a calendar date (YYYY-MM-DD)")
    return value


def check_text(value: object, field: str, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must not be blank")
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters")
    return value.strip()


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (b_to is None or a_from <= b_to) and (a_to is None or b_from <= a_to)


class Subject(ProtectedAggregate):
    """One sequestered subject, known only by its pseudonym (its own data subject)."""

    kek = KEK_EVENTS

    @staticmethod
    def create_id(pseudonym: str, **_: Any) -> UUID:
        return subject_uuid(pseudonym)

    @event("Enrolled")
    def __init__(
        self,
        pseudonym: str,
        category: str,
        labels: list[dict[str, str]],
        staff_link: str | None,
        enrolled_on: date,
    ) -> None:
        self.pseudonym = pseudonym
        self.category = category
        self.labels = [dict(label) for label in labels]
        self.staff_link = staff_link
        self.enrolled_on = enrolled_on
        self.groups: list[dict[str, Any]] = []
        self.clinicians: list[str] = []

    @classmethod
    def enrol(
        cls,
        pseudonym: str,
        category: str,
        labels: list[dict[str, str]],
        staff_link: str | None,
        enrolled_on: date,
    ) -> Subject:
        check_category(category)
        if staff_link is not None and category not in LINKABLE_CATEGORIES:
            raise InvalidInput(f"only categories {list(LINKABLE_CATEGORIES)} are linked to staff")
        return cls(pseudonym, category, labels, staff_link, check_day(enrolled_on, "enrolled_on"))

    # Labels -----------------------------------------------------------------------

    @property
    def confidentiality(self) -> str:
        return next(lb["code"] for lb in self.labels if lb["system"] == CONFIDENTIALITY_SYSTEM)

    def add_program_labels(self, codes: Iterable[str]) -> None:
        new = [lb for lb in program_labels(codes) if lb not in self.labels]
        if not new:
            raise RuleViolation(
                "labels_already_present", f"subject {self.pseudonym} already carries those labels"
            )
        self._add_labels(new)

    @event("LabelsAdded")
    def _add_labels(self, labels: list[dict[str, str]]) -> None:
        self.labels.extend(dict(label) for label in labels)

    def set_confidentiality(self, code: str) -> None:
        label = check_confidentiality(code)
        if code == self.confidentiality:
            raise RuleViolation(
                "confidentiality_unchanged",
                f"subject {self.pseudonym} already has confidentiality {code}",
            )
        self._set_confidentiality(label)

    @event("ConfidentialityChanged")
    def _set_confidentiality(self, label: dict[str, str]) -> None:
        self.labels = [
            dict(label) if lb["system"] == CONFIDENTIALITY_SYSTEM else lb for lb in self.labels
        ]

    # Group participation as a service recipient -----------------------------------

    def add_group(self, group_id: str, from_: date, to: date | None = None) -> None:
        group_id = check_text(group_id, "group_id", 100)
        check_day(from_, "from")
        if to is not None and check_day(to, "to") < from_:
            raise InvalidInput(f"group participation cannot end ({to}) before it starts ({from_})")
        same_group = [g for g in self.groups if g["group_id"] == group_id]
        if any(g["to"] is None for g in same_group):
            raise RuleViolation(
                "group_already_open",
                f"subject {self.pseudonym} already takes part in group {group_id}; end it first",
            )
        if any(_overlaps(from_, to, g["from"], g["to"]) for g in same_group):
            raise RuleViolation(
                "group_periods_overlap",
                f"the period overlaps an earlier participation of subject {self.pseudonym} "
                f"in group {group_id}",
            )
        self._join_group(group_id, from_, to)

    @event("GroupJoined")
    def _join_group(self, group_id: str, from_: date, to: date | None) -> None:
        self.groups.append({"group_id": group_id, "from": from_, "to": to})

    def end_group(self, group_id: str, to: date) -> None:
        check_day(to, "to")
        index = self._open_group_index(group_id)
        if to < self.groups[index]["from"]:
            raise InvalidInput(
                f"group participation cannot end ({to}) before it starts "
                f"({self.groups[index]['from']})"
            )
        self._leave_group(group_id, to)

    def _open_group_index(self, group_id: str) -> int:
        for i, g in enumerate(self.groups):
            if g["group_id"] == group_id and g["to"] is None:
                return i
        raise RuleViolation(
            "group_not_open",
            f"subject {self.pseudonym} has no open participation in group {group_id}",
        )

    @event("GroupLeft")
    def _leave_group(self, group_id: str, to: date) -> None:
        self.groups[self._open_group_index(group_id)]["to"] = to

    def groups_on(self, day: date) -> set[str]:
        """The groups the subject attends as a service recipient on `day`."""
        return {
            g["group_id"]
            for g in self.groups
            if g["from"] <= day and (g["to"] is None or day <= g["to"])
        }

    # Assigned clinicians ------------------------------------------------------------

    def assign_clinician(
        self, staff_id: str, candidate_link: str, supervisee_links: set[str]
    ) -> None:
        """Assign a clinician, unless it is the linked staff member or supervises it
        [seed: Supervisory relationship B]. Both refusals read the same, so the message
        does not tell which staff member is the client."""
        staff_id = check_text(staff_id, "staff_id", 100)
        if self.staff_link is not None and candidate_link == self.staff_link:
            raise LinkRefusal("self_clinician", SEQUESTRATION_DENIAL)
        if self.staff_link is not None and self.staff_link in supervisee_links:
            raise LinkRefusal("supervisor_as_clinician", SEQUESTRATION_DENIAL)
        if staff_id in self.clinicians:
            raise RuleViolation(
                "clinician_already_assigned",
                f"staff member {staff_id} is already a clinician of subject {self.pseudonym}",
            )
        self._assign_clinician(staff_id)

    @event("ClinicianAssigned")
    def _assign_clinician(self, staff_id: str) -> None:
        self.clinicians.append(staff_id)

    def remove_clinician(self, staff_id: str) -> None:
        if staff_id not in self.clinicians:
            raise RuleViolation(
                "clinician_not_assigned",
                f"staff member {staff_id} is not a clinician of subject {self.pseudonym}",
            )
        self._remove_clinician(staff_id)

    @event("ClinicianRemoved")
    def _remove_clinician(self, staff_id: str) -> None:
        self.clinicians.remove(staff_id)
