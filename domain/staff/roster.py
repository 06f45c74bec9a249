"""The staff roster: who is on staff and who supervises whom, in one small aggregate.

Access decisions need "whom does this principal supervise" without scanning every
staff member; the roster answers it and is saved in the same commit as each change.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ProtectedAggregate

ROSTER_ID = uuid5(NAMESPACE_URL, "urn:sequester:staff-roster")


class StaffRoster(ProtectedAggregate):
    """staff id → supervisor id (or None) for every active staff member."""

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        return ROSTER_ID

    @event("Started")
    def __init__(self) -> None:
        self.supervisors: dict[str, str | None] = {}

    @event("Listed")
    def list_member(self, staff_id: str, supervisor_id: str | None) -> None:
        self.supervisors[staff_id] = supervisor_id

    @event("Delisted")
    def delist_member(self, staff_id: str) -> None:
        self.supervisors.pop(staff_id, None)

    def supervisees(self, staff_id: str) -> list[str]:
        return sorted(s for s, sup in self.supervisors.items() if sup == staff_id)
