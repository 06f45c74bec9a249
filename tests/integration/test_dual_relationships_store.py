"""Every dual-relationship event round-trips through the encrypted store on SQLite and
PostgreSQL, and none of its text is stored in plaintext."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from domain.dual_relationships import Actor, Disclosure, DualRelationshipsApplication
from ops.bootstrap import System

STAFF = Actor("S-7", frozenset({"peer_staff"}))
MANAGER = Actor("M-1", frozenset({"manager"}))
COUNSEL = Actor("CC-1", frozenset({"county_counsel"}))
DEPUTY = Actor("CD-1", frozenset({"clinical_deputy"}))
DIRECTOR = Actor("DIR-1", frozenset({"director"}))

CANARY_GUIDANCE = "Counsel cites the Ubbelohde precedent"
CANARY_WAIVER = "waived: the Marchetti-Voss exception applies"
CANARY_CONDITION = "no contact at the Wexford Street drop-in"
CANARY_RATIONALE = "Halvorsen rationale"
PSEUDONYM = "SQ-7F3K-Q9XM"

DISCLOSURE = Disclosure(
    staff_id="S-7",
    kind="romantic",
    began_on=date(2023, 3, 1),
    predates_hire=True,
    disclosed_on=date(2024, 2, 20),
    disclosed_to="M-1",
    hired_on=date(2024, 1, 8),
    counterpart_case_status="closed",
    counterpart_pseudonym=PSEUDONYM,
    counterpart_case_closed_on=date(2022, 6, 1),
)
NOW = datetime(2024, 2, 21, 9, 0, tzinfo=UTC)


def with_guidance(app: DualRelationshipsApplication) -> UUID:
    """Disclosed, Referred, GuidanceRecorded, Recommended, Decided, ConditionMet, Closed."""
    case_id, _ = app.disclose(STAFF, DISCLOSURE, NOW)
    app.refer(case_id, MANAGER, date(2024, 2, 21))
    app.record_guidance(case_id, COUNSEL, CANARY_GUIDANCE, date(2024, 2, 28))
    app.recommend(case_id, DEPUTY, "exception_with_conditions", CANARY_RATIONALE, date(2024, 3, 1))
    app.decide(case_id, DIRECTOR, "exception_with_conditions", [CANARY_CONDITION], date(2024, 3, 4))
    app.condition_met(case_id, 0, MANAGER, date(2024, 4, 1))
    app.close_case(case_id, DIRECTOR, date(2024, 4, 2))
    return case_id


def with_waiver(app: DualRelationshipsApplication) -> UUID:
    """Disclosed, Referred, GuidanceWaived: left open, waiting for the recommendation."""
    case_id, _ = app.disclose(MANAGER, DISCLOSURE, NOW)
    app.refer(case_id, MANAGER, date(2024, 2, 21))
    app.waive_guidance(case_id, DIRECTOR, CANARY_WAIVER, date(2024, 2, 22))
    return case_id


def test_every_event_round_trips_to_equal_state(system: System) -> None:
    app = DualRelationshipsApplication(system.infrastructure)
    cases = [with_guidance(app), with_waiver(app)]
    fresh = DualRelationshipsApplication(system.infrastructure)
    for case_id in cases:
        assert fresh.get(case_id) == app.get(case_id)
    closed, waived = (fresh.get(c) for c in cases)
    assert closed.is_closed and closed.version == 7
    assert closed.conditions[0].text == CANARY_CONDITION
    assert waived.guidance_waiver and waived.guidance_waiver.text == CANARY_WAIVER
    assert waived.current_step == "recommendation"


def test_each_version_replays_from_the_store(system: System) -> None:
    app = DualRelationshipsApplication(system.infrastructure)
    case_id = with_guidance(app)
    fresh = DualRelationshipsApplication(system.infrastructure)
    assert fresh.get(case_id, version=3).current_step == "recommendation"
    assert fresh.get(case_id, version=5).current_step == "conditions"


def test_stored_events_hold_no_plaintext(system: System) -> None:
    app = DualRelationshipsApplication(system.infrastructure)
    cases = [with_guidance(app), with_waiver(app)]
    stored = [
        bytes(row.state)
        for case_id in cases
        for row in system.infrastructure.recorder.select_events(case_id)
    ]
    assert len(stored) == 10
    raw = b"".join(stored)
    for text in (CANARY_GUIDANCE, CANARY_WAIVER, CANARY_CONDITION, CANARY_RATIONALE, PSEUDONYM):
        assert text.encode() not in raw
        assert text.encode("utf-16-le") not in raw
    assert b"romantic" not in raw and b"Ubbelohde" not in raw
