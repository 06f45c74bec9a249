"""`effective_access`: the grants each staff member holds on each chart, with the
Director's office's confirmation or decline.

Grants only: nothing resting on the staff↔client link is ever written here (DESIGN §3
item 6), and a decline's reason stays in the events. A list, not a decision: the access
decision itself reads the log (`domain.access.facts`).
"""

from __future__ import annotations

from datetime import datetime

from domain.access.grants import Grant
from projections.base import Event, FoldProjection, Row, event_class
from projections.tables import Column, Db, Table

Granted = event_class(Grant, "Granted")
Revoked = event_class(Grant, "Revoked")
Confirmed = event_class(Grant, "Confirmed")
Declined = event_class(Grant, "Declined")

TABLE = Table(
    # v2: confirmation and decline (a new name is rebuilt from the log at start-up)
    "effective_access_v2",
    (
        Column("grant_id", "text", False),
        Column("subject_id", "text", False),
        Column("grantee", "text", False),
        Column("pseudonym", "text", False),
        Column("scope", "text", False),
        Column("purpose", "text", False),
        Column("granted_by", "text", False),
        Column("granted_at", "timestamp", False),
        Column("expires_at", "timestamp", False),
        Column("revoked_at", "timestamp"),
        Column("confirmed_at", "timestamp"),
        Column("declined_at", "timestamp"),
    ),
    key="grant_id",
    indexes=("grantee", "pseudonym"),
)
LIVE = ("revoked_at IS NULL AND declined_at IS NULL AND confirmed_at IS NOT NULL "
        "AND expires_at > %s")
PENDING = "revoked_at IS NULL AND declined_at IS NULL AND confirmed_at IS NULL AND expires_at > %s"


class EffectiveAccess(FoldProjection):
    name = "effective_access_v2"
    table = TABLE
    events = (Granted, Revoked, Confirmed, Declined)

    def fold(self, row: Row | None, event: Event) -> Row | None:
        if isinstance(event, Granted):
            return {
                "grant_id": str(event.originator_id),
                "subject_id": str(event.subject_id),
                "grantee": event.grantee,
                "pseudonym": event.pseudonym,
                "scope": event.scope,
                "purpose": event.purpose,
                "granted_by": event.granted_by,
                "granted_at": event.granted_at,
                "expires_at": event.expires_at,
                "revoked_at": None,
                "confirmed_at": None,
                "declined_at": None,
            }
        if row is None:
            return None
        if isinstance(event, Revoked):
            return {**row, "revoked_at": event.at}
        if isinstance(event, Confirmed):
            return {**row, "confirmed_at": event.at}
        if isinstance(event, Declined):
            return {**row, "declined_at": event.at}
        return row

    # -- queries (live grants only: not revoked, not yet expired) --------------------------
    def for_principal(self, db: Db, staff_id: str, now: datetime) -> list[Row]:
        with db.read() as tx:
            return tx.rows(
                TABLE,
                f"grantee = %s AND {LIVE}",
                (staff_id, db.dialect.to_db("timestamp", now)),
                order_by="pseudonym, expires_at, grant_id",
            )

    def for_chart(self, db: Db, pseudonym: str, now: datetime) -> list[Row]:
        with db.read() as tx:
            return tx.rows(
                TABLE,
                f"pseudonym = %s AND {LIVE}",
                (pseudonym, db.dialect.to_db("timestamp", now)),
                order_by="grantee, expires_at, grant_id",
            )

    def pending(self, db: Db, now: datetime) -> list[Row]:
        """Grants waiting for the Director's office, oldest first."""
        with db.read() as tx:
            return tx.rows(TABLE, PENDING, (db.dialect.to_db("timestamp", now),),
                           order_by="granted_at, grant_id")

    def live(self, db: Db, now: datetime) -> list[Row]:
        with db.read() as tx:
            return tx.rows(TABLE, LIVE, (db.dialect.to_db("timestamp", now),),
                           order_by="granted_at, grant_id")

    def grants(self, db: Db) -> list[Row]:
        """Every grant in any state (the privacy officer's list)."""
        with db.read() as tx:
            return tx.rows(TABLE, order_by="granted_at, grant_id")
