"""Which teams exist, in one small aggregate saved with each new team (so listing the
teams needs no scan of the log; the same pattern as the staff roster)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import ProtectedAggregate

TEAM_INDEX_ID = uuid5(NAMESPACE_URL, "urn:sequester:team-index")


class TeamIndex(ProtectedAggregate):
    """team id → team kind, for every team formed."""

    @staticmethod
    def create_id() -> UUID:
        return TEAM_INDEX_ID

    @event("Started")
    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}

    @event("Listed")
    def list_team(self, team_id: str, kind: str) -> None:
        self.kinds[team_id] = kind
