"""The staff member: hired into a job title, with roles, a supervisor, signed
confidentiality agreements [seed: Confidentiality I.A] and, eventually, a separation."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ID_CACHE_SIZE, ProtectedAggregate
from domain.errors import InvalidInput, RuleViolation
from domain.staff.ids import canonical_form, canonical_staff_id
from domain.staff.jobs import CATALOGUE

ROLES = frozenset(
    {
        "director",
        "clinical_deputy",
        "manager",
        "county_counsel",
        "privacy_officer",
        "auditor",
        "clinician",
        "peer_staff",
        "hr",
    }
)
STAFF_NAMESPACE = uuid5(NAMESPACE_URL, "urn:sequester:staff")


@lru_cache(maxsize=ID_CACHE_SIZE)
def staff_uuid(staff_id: str) -> UUID:
    """The aggregate id of a staff member: deterministic, so a staff id is unique (and
    derived from the canonical form, so an email in any case is one member)."""
    return uuid5(STAFF_NAMESPACE, canonical_form(staff_id))


def check_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        raise InvalidInput(f"unknown role(s) {unknown}; known roles are {sorted(ROLES)}")
    if not roles:
        raise InvalidInput("a staff member needs at least one role")
    return sorted(set(roles))


def check_job_title(job_title: str) -> None:
    if job_title not in CATALOGUE:
        raise InvalidInput(
            f"job title {job_title!r} is not in the catalogue; known titles are {sorted(CATALOGUE)}"
        )


class StaffMember(ProtectedAggregate):
    """One person on the agency's staff (the staff member is its own data subject)."""

    @staticmethod
    def create_id(staff_id: str, **_: Any) -> UUID:
        return staff_uuid(staff_id)

    @event("Hired")
    def __init__(
        self,
        staff_id: str,
        display_name: str,
        job_title: str,
        roles: list[str],
        supervisor_id: str | None,
        hired_on: date,
    ) -> None:
        self.staff_id = staff_id
        self.display_name = display_name
        self.job_title = job_title
        self.roles = list(roles)
        self.supervisor_id = supervisor_id
        self.hired_on = hired_on
        self.agreements: list[dict[str, Any]] = []
        self.separated_on: date | None = None

    @classmethod
    def hire(
        cls,
        staff_id: str,
        display_name: str,
        job_title: str,
        roles: list[str],
        supervisor_id: str | None,
        hired_on: date,
    ) -> StaffMember:
        if not display_name.strip():
            raise InvalidInput("display_name must not be blank")
        staff_id = canonical_staff_id(staff_id)
        supervisor_id = None if supervisor_id is None else canonical_staff_id(supervisor_id)
        check_job_title(job_title)
        if supervisor_id == staff_id:
            raise RuleViolation("self_supervision", "a staff member cannot supervise itself")
        return cls(staff_id, display_name, job_title, check_roles(roles), supervisor_id, hired_on)

    @property
    def charts(self) -> bool:
        """Whether this member's job title charts [seed: Confidentiality I.B]."""
        return CATALOGUE[self.job_title].charts

    @property
    def is_active(self) -> bool:
        return self.separated_on is None

    def _require_active(self) -> None:
        if not self.is_active:
            raise RuleViolation(
                "separated", f"staff member {self.staff_id} separated on {self.separated_on}"
            )

    def sign_confidentiality_agreement(self, version: str, signed_on: date) -> None:
        self._require_active()
        if not version.strip():
            raise InvalidInput("the agreement version must not be blank")
        if any(a["version"] == version for a in self.agreements):
            raise RuleViolation(
                "agreement_already_signed",
                f"staff member {self.staff_id} already signed agreement version {version}",
            )
        self._sign_agreement(version, signed_on)

    @event("ConfidentialityAgreementSigned")
    def _sign_agreement(self, version: str, signed_on: date) -> None:
        self.agreements.append({"version": version, "signed_on": signed_on})

    def has_current_agreement(self, required_version: str | None, on: date) -> bool:
        """Signed the required version (or any, if none is required) on or before `on`."""
        return self.is_active and any(
            a["signed_on"] <= on and required_version in (None, a["version"])
            for a in self.agreements
        )

    def assign_roles(self, roles: list[str]) -> None:
        self._require_active()
        self._assign_roles(check_roles(roles))

    @event("RolesAssigned")
    def _assign_roles(self, roles: list[str]) -> None:
        self.roles = list(roles)

    def change_supervisor(self, supervisor_id: str | None) -> None:
        self._require_active()
        if supervisor_id == self.staff_id:
            raise RuleViolation("self_supervision", "a staff member cannot supervise itself")
        self._change_supervisor(supervisor_id)

    @event("SupervisorChanged")
    def _change_supervisor(self, supervisor_id: str | None) -> None:
        self.supervisor_id = supervisor_id

    def separate(self, separated_on: date, reason: str, today: date) -> None:
        """Record a separation, which takes effect on `separated_on` (the first day
        off staff): never after today, so a recorded separation is always in effect."""
        self._require_active()
        if not reason.strip():
            raise InvalidInput("the separation reason must not be blank")
        if separated_on > today:
            raise InvalidInput(
                f"separation date {separated_on} is after today ({today}): record a "
                "separation on or after the day it takes effect"
            )
        if separated_on < self.hired_on:
            raise InvalidInput(
                f"separation date {separated_on} is before the hire date {self.hired_on}"
            )
        self._separate(separated_on, reason)

    @event("Separated")
    def _separate(self, separated_on: date, reason: str) -> None:
        self.separated_on = separated_on
        self.separation_reason = reason
