"""The staff context's application service."""

from __future__ import annotations

from datetime import date

from domain.base import ContextApplication
from domain.dates import PLANNED_AHEAD, plausible_day
from domain.errors import AlreadyExists
from domain.staff.aggregate import StaffMember, staff_uuid
from domain.staff.roster import ROSTER_ID, StaffRoster


class StaffApplication(ContextApplication):
    name = "staff"

    def hire(
        self,
        staff_id: str,
        display_name: str,
        job_title: str,
        roles: list[str],
        hired_on: date,
        supervisor_id: str | None = None,
    ) -> int:
        plausible_day(hired_on, "hired_on", ahead=PLANNED_AHEAD)
        if self.exists(staff_id):
            raise AlreadyExists(f"staff member {staff_id} already exists")
        if supervisor_id not in (None, staff_id):
            self.get(supervisor_id)
        member = StaffMember.hire(staff_id, display_name, job_title, roles, supervisor_id, hired_on)
        roster = self.roster()
        roster.list_member(staff_id, supervisor_id)
        return self.commit(member, roster)

    def roster(self) -> StaffRoster:
        if self.recorder.select_events(ROSTER_ID, limit=1):
            roster: StaffRoster = self.load(ROSTER_ID, "staff roster")
            return roster
        return StaffRoster()

    def supervisees(self, staff_id: str) -> list[str]:
        """Active staff whom this staff member supervises."""
        return self.roster().supervisees(staff_id)

    def exists(self, staff_id: str) -> bool:
        return self.recorder.select_events(staff_uuid(staff_id), limit=1) != []

    def get(self, staff_id: str, version: int | None = None) -> StaffMember:
        member: StaffMember = self.load(staff_uuid(staff_id), f"staff member {staff_id}", version)
        return member

    def sign_agreement(self, staff_id: str, version: str, signed_on: date) -> int:
        plausible_day(signed_on, "signed_on")
        member = self.get(staff_id)
        member.sign_confidentiality_agreement(version, signed_on)
        return self.commit(member)

    def assign_roles(self, staff_id: str, roles: list[str]) -> int:
        member = self.get(staff_id)
        member.assign_roles(roles)
        return self.commit(member)

    def change_supervisor(self, staff_id: str, supervisor_id: str | None) -> int:
        member = self.get(staff_id)
        if supervisor_id is not None:
            self.get(supervisor_id)
        member.change_supervisor(supervisor_id)
        roster = self.roster()
        roster.list_member(staff_id, supervisor_id)
        return self.commit(member, roster)

    def separate(self, staff_id: str, separated_on: date, reason: str) -> int:
        member = self.get(staff_id)
        member.separate(separated_on, reason)
        roster = self.roster()
        roster.delist_member(staff_id)
        return self.commit(member, roster)
