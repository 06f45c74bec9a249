"""The staff context's application service."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime

from domain.base import ContextApplication
from domain.dates import PLANNED_AHEAD, plausible_day
from domain.errors import AlreadyExists, RuleViolation
from domain.staff import authority
from domain.staff.aggregate import StaffMember, check_roles, staff_uuid
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
        granted_by: Collection[str] | None = None,
    ) -> int:
        """Hire a staff member; with `granted_by` (the hiring principal's roles), only
        into roles those may grant (`domain.staff.authority`)."""
        plausible_day(hired_on, "hired_on", ahead=PLANNED_AHEAD)
        member = StaffMember.hire(staff_id, display_name, job_title, roles, supervisor_id, hired_on)
        if granted_by is not None:
            authority.check_grant(granted_by, member.roles)
        if self.exists(member.staff_id):
            raise AlreadyExists(f"staff member {member.staff_id} already exists")
        if member.supervisor_id not in (None, member.staff_id):
            self.get(member.supervisor_id)
        roster = self.roster()
        roster.list_member(member.staff_id, member.supervisor_id)
        return self.commit(member, roster)

    def bootstrap(self, staff_id: str, display_name: str, job_title: str, roles: list[str],
                  hired_on: date) -> int:
        """The first staff member of an empty database (who then hires the others)."""
        if self.recorder.select_events(ROSTER_ID, limit=1):
            raise AlreadyExists(
                "staff members exist already: bootstrap only creates the first one; "
                "hire through POST /staff"
            )
        return self.hire(staff_id, display_name, job_title, roles, hired_on)

    def current(self, staff_id: str) -> StaffMember | None:
        """The staff record as the log holds it now (one query; decoded copies reused),
        or None: for deciding who holds a role, never cached past the log."""
        member = self.current_many(staff_uuid(staff_id)).get(staff_uuid(staff_id))
        return member if isinstance(member, StaffMember) else None

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

    def assign_roles(self, staff_id: str, roles: list[str], actor_id: str | None = None,
                     actor_roles: Collection[str] | None = None) -> int:
        """Replace a member's roles; with an actor, only as far as its roles may grant
        and never its own (`domain.staff.authority`)."""
        member = self.get(staff_id)
        after = check_roles(roles)
        if actor_roles is not None:
            authority.check_role_change(actor_id or "", actor_roles, member.staff_id,
                                        member.roles, after)
        if "director" in member.roles and "director" not in after:
            self._require_another_director(member.staff_id)
        member.assign_roles(after)
        return self.commit(member)

    def change_supervisor(self, staff_id: str, supervisor_id: str | None) -> int:
        member = self.get(staff_id)
        if supervisor_id is not None:
            self.get(supervisor_id)
        member.change_supervisor(supervisor_id)
        roster = self.roster()
        roster.list_member(staff_id, supervisor_id)
        return self.commit(member, roster)

    def separate(self, staff_id: str, separated_on: date, reason: str,
                 today: date | None = None) -> int:
        """Record a separation: from `separated_on` on the member holds no role."""
        member = self.get(staff_id)
        member.separate(separated_on, reason, today or datetime.now(UTC).date())
        if "director" in member.roles:
            self._require_another_director(member.staff_id)
        roster = self.roster()
        roster.delist_member(member.staff_id)
        return self.commit(member, roster)

    def _require_another_director(self, staff_id: str) -> None:
        """The Director's office is never left empty: only a director grants `director`,
        so with none left no one could ever again."""
        others = [i for i in self.roster().supervisors if i != staff_id]
        found = self.load_many(*map(staff_uuid, others)).values()
        if not any(isinstance(m, StaffMember) and m.is_active and "director" in m.roles
                   for m in found):
            raise RuleViolation(
                "last_director",
                f"{staff_id} is the last staff member holding director: appoint another "
                "director first",
            )
