"""`subject_list`: the Director's office list of subjects, by pseudonym.

Pseudonym, category, security labels, enrolment date, how many group participations
(as a service recipient) are open, i.e. have no end date, and how many clinicians it has. Never the
legal name, the birth date or the staff-link hash: the projection reads `Subject`
events only (not `IdentityRecord`), and copies no `staff_link`. The category and the
labels (an `EMP` or `42CFRPart2` label is itself sensitive) are sealed under the
subject's data key: a database dump without keys shows neither.
"""

from __future__ import annotations

import json
from typing import Any

from domain.subjects.subject import CONFIDENTIALITY_SYSTEM, Subject
from projections.base import Event, FoldProjection, Row, event_class
from projections.tables import Column, Db, Table

Enrolled = event_class(Subject, "Enrolled")
LabelsAdded = event_class(Subject, "LabelsAdded")
ConfidentialityChanged = event_class(Subject, "ConfidentialityChanged")
GroupJoined = event_class(Subject, "GroupJoined")
GroupLeft = event_class(Subject, "GroupLeft")
ClinicianAssigned = event_class(Subject, "ClinicianAssigned")
ClinicianRemoved = event_class(Subject, "ClinicianRemoved")

TABLE = Table(
    # v2: category and labels sealed (a new name is rebuilt from the log at start-up)
    "subject_list_v2",
    (
        Column("subject_id", "text", False),
        Column("pseudonym", "text", False),
        Column("body", "blob", False),  # sealed: category, labels
        Column("enrolled_on", "date", False),
        Column("group_count", "int", False),
        Column("clinician_count", "int", False),
    ),
    key="subject_id",
    indexes=("pseudonym",),
)


def labels_json(labels: list[dict[str, str]]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


class SubjectList(FoldProjection):
    name = "subject_list_v2"
    table = TABLE
    sealed = ("category", "labels")
    events = (
        Enrolled,
        LabelsAdded,
        ConfidentialityChanged,
        GroupJoined,
        GroupLeft,
        ClinicianAssigned,
        ClinicianRemoved,
    )

    def fold(self, row: Row | None, event: Event) -> Row | None:
        if isinstance(event, Enrolled):
            return {
                "subject_id": str(event.originator_id),
                "pseudonym": event.pseudonym,
                "category": event.category,
                "labels": labels_json(event.labels),
                "enrolled_on": event.enrolled_on,
                "group_count": 0,
                "clinician_count": 0,
            }
        if row is None:
            return None
        return {**row, **self._change(row, event)}

    @staticmethod
    def _change(row: Row, event: Any) -> Row:
        labels = json.loads(row["labels"])
        if isinstance(event, LabelsAdded):
            return {"labels": labels_json(labels + list(event.labels))}
        if isinstance(event, ConfidentialityChanged):
            replaced = [
                dict(event.label) if lb["system"] == CONFIDENTIALITY_SYSTEM else lb for lb in labels
            ]
            return {"labels": labels_json(replaced)}
        if isinstance(event, GroupJoined):
            return {"group_count": row["group_count"] + (1 if event.to is None else 0)}
        if isinstance(event, GroupLeft):
            return {"group_count": row["group_count"] - 1}
        if isinstance(event, ClinicianAssigned):
            return {"clinician_count": row["clinician_count"] + 1}
        if isinstance(event, ClinicianRemoved):
            return {"clinician_count": row["clinician_count"] - 1}
        return {}

    # -- queries -------------------------------------------------------------------------
    def subjects(self, db: Db) -> list[Row]:
        """Every subject, by pseudonym, with its labels decoded."""
        with db.read() as tx:
            rows = tx.rows(TABLE, order_by="pseudonym")
        return [self.listed(r) for r in rows]

    def by_pseudonym(self, db: Db, pseudonym: str) -> Row | None:
        with db.read() as tx:
            rows = tx.rows(TABLE, "pseudonym = %s", (pseudonym,))
        return self.listed(rows[0]) if rows else None

    def listed(self, row: Row) -> Row:
        opened = self.opened(row)
        return {**opened, "labels": json.loads(opened["labels"])}
