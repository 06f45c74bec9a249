"""Domain data for the projection tests, written through the system's applications.

`bulk_charts` builds each chart in memory and saves it in one commit, so tens of
thousands of events are written in seconds (an `add_entry` per entry would replay the
chart every time).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from domain.charts.aggregate import Chart
from domain.dual_relationships import Actor, Disclosure
from domain.subjects.subject import Subject, subject_uuid
from ops.bootstrap import System
from projections.base import Event, FoldProjection, Projection, Row, event_class
from projections.catalog import read_models
from projections.sealing import KeyringSealer
from projections.tables import Column, Table, Tx

LEGAL_NAME = "Wilhelmina Quargenthwaite"
BIRTH_DATE = date(1971, 4, 23)
NOTE = "zebra-note: discussed the Okonkwo-Baptiste housing plan"
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
PO = frozenset({"privacy_officer"})
MANAGER = Actor("M-1", frozenset({"manager"}))
DEPUTY = Actor("CD-1", frozenset({"clinical_deputy"}))
COUNSEL = Actor("CC-1", frozenset({"county_counsel"}))


def models(system: System) -> list[Projection]:
    sealer = KeyringSealer(system.keyring)
    return read_models(sealer.seal, sealer.unseal, system.dual_relationships.policy)


@dataclass
class Written:
    pseudonyms: list[str] = field(default_factory=list)
    grants: list[UUID] = field(default_factory=list)
    break_glass: list[UUID] = field(default_factory=list)
    cases: list[UUID] = field(default_factory=list)
    entries: int = 0
    position: int = 0


def enrol(system: System, written: Written, staff_id: str | None = "S-100") -> str:
    category = "employee" if staff_id else "public_figure"
    pseudonym, written.position = system.subjects.enrol(
        LEGAL_NAME, BIRTH_DATE, category, staff_id, ["PSY"], enrolled_on=date(2025, 1, 6)
    )
    written.pseudonyms.append(pseudonym)
    return pseudonym


def clinical_history(system: System) -> Written:
    """One subject with every kind of event the read models read."""
    written = Written()
    p = enrol(system, written)
    sid = subject_uuid(p)
    system.subjects.add_group(p, "G-1", date(2025, 1, 10))
    system.subjects.add_group(p, "G-2", date(2025, 1, 10))
    system.subjects.end_group(p, "G-2", date(2025, 2, 1))
    system.subjects.assign_clinician(p, "C-1", set())
    system.subjects.add_labels(p, ["SUD"])
    system.subjects.set_confidentiality(p, "V")
    system.charts.open(p, sid, date(2025, 1, 7))
    first, _ = system.charts.add_entry(
        p, "C-1", True, "assessment", None, date(2025, 1, 8), NOTE, NOW
    )
    system.charts.add_entry(
        p, "C-1", True, "assessment", None, date(2025, 1, 8), "corrected", NOW, corrects=first
    )
    system.charts.close_chart(p, date(2025, 3, 1), "C-1")
    written.entries = 2
    access_history(system, written, p, sid)
    written.cases.append(dual_case(system))
    written.position = system.charts.position()
    return written


def access_history(system: System, written: Written, p: str, sid: UUID) -> None:
    access = system.access
    live, _ = access.grant("C-2", p, sid, "read", "TREAT", NOW + timedelta(days=30),
                           "covering", "PO-1", NOW, actor_roles=PO)  # fmt: skip
    gone, _ = access.grant("C-3", p, sid, "write", "TREAT", NOW + timedelta(days=30),
                           "covering", "PO-1", NOW, actor_roles=PO)  # fmt: skip
    for confirmed in (live, gone):
        access.confirm(confirmed, "D-1", NOW, None, actor_roles=frozenset({"director"}))
    access.grant("C-6", p, sid, "read", "TREAT", NOW + timedelta(days=30), "covering", "PO-1",
                 NOW, actor_roles=PO)  # never confirmed
    access.revoke(gone, "PO-1", "ended", NOW + timedelta(hours=1), actor_roles=PO)
    pending, _ = access.invoke_break_glass("C-4", p, sid, "BTG", "crisis", NOW,
                                           actor_roles=frozenset({"clinician"}))  # fmt: skip
    done, _ = access.invoke_break_glass("C-5", p, sid, "BTG", "crisis", NOW,
                                        actor_roles=frozenset({"clinician"}))  # fmt: skip
    access.review_break_glass(done, "PO-1", "appropriate", "", NOW, actor_roles=PO)
    written.grants += [live, gone]
    written.break_glass += [pending, done]


def dual_case(system: System) -> UUID:
    disclosure = Disclosure(
        staff_id="S-7", kind="romantic", began_on=date(2023, 3, 1), predates_hire=True,
        disclosed_on=date(2024, 2, 20), disclosed_to="M-1", hired_on=date(2024, 1, 8),
        counterpart_case_status="closed", counterpart_client_ref="CL-88",
        counterpart_case_closed_on=date(2022, 6, 1),
    )  # fmt: skip
    app = system.dual_relationships
    case_id, _ = app.disclose(MANAGER, disclosure, datetime(2024, 2, 21, tzinfo=UTC))
    app.refer(case_id, MANAGER, date(2024, 2, 21))
    app.record_guidance(case_id, COUNSEL, "counsel's words", date(2024, 2, 28))
    return case_id


def bulk_charts(
    system: System, charts: int, entries: int, written: Written | None = None
) -> Written:
    """`charts` subjects, each with a chart of `entries` entries saved in one commit."""
    written = written or Written()
    for n in range(charts):
        p = enrol(system, written, staff_id=None)
        chart = Chart.open(p, subject_uuid(p), date(2025, 1, 7))
        for i in range(entries):
            chart.record_entry(uuid4(), "C-1", True, "individual_session", None,
                               date(2025, 1, 8), f"note {n}/{i}", NOW)  # fmt: skip
        written.position = system.charts.commit(chart)
        written.entries += entries
    return written


TALLIED = ((Subject, "Enrolled"), (Chart, "Opened"), (Chart, "EntryRecorded"))


class SlowTally(FoldProjection):
    """Counts each aggregate's events, pausing inside every batch's transaction after its
    writes: a kill lands mid-transaction, and a batch applied twice would count twice."""

    name = "crash_tally"
    table = Table(
        "crash_tally",
        (Column("originator_id", "text", False), Column("events", "int", False)),
        key="originator_id",
    )
    events = tuple(event_class(a, n) for a, n in TALLIED)

    def __init__(self, pause: float = 0.03) -> None:
        self.pause = pause

    def fold(self, row: Row | None, event: Event) -> Row | None:
        return {
            "originator_id": str(event.originator_id),
            "events": (row or {"events": 0})["events"] + 1,
        }

    def apply(self, batch: Sequence[Event], tx: Tx) -> None:
        super().apply(batch, tx)
        time.sleep(self.pause)


def crash_models(system: System) -> list[Projection]:
    return [SlowTally(), *models(system)]
