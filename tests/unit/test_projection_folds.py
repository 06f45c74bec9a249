"""The read models' pure logic: each fold turns an aggregate's events into the row a
query reads, with no database and no application."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.access.grants import BreakGlass, Grant
from domain.charts.aggregate import Chart
from domain.dual_relationships import (
    Actor,
    Disclosure,
    DualRelationshipCase,
    DualRelationshipPolicy,
)
from domain.subjects.subject import Subject, labels_for
from projections.break_glass_queue import BreakGlassQueue
from projections.chart_index import ChartIndex
from projections.dual_relationship_queue import DualRelationshipQueue, with_clock
from projections.effective_access import EffectiveAccess
from projections.subject_list import SubjectList

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SID = UUID("00000000-0000-4000-8000-000000000001")


def only_row(projection: Any, events: Sequence[Any]) -> dict[str, Any]:
    rows = projection.fold_all(events)
    assert len(rows) == 1
    row: dict[str, Any] = next(iter(rows.values()))
    return row


def enrolled() -> Subject:
    labels = labels_for("employee", ["PSY"], "R")
    return Subject.enrol("SQ-7F3K-Q9XM", "employee", labels, "link-hash-77", date(2025, 1, 6))


def test_subject_list_row_has_no_staff_link() -> None:
    row = only_row(SubjectList(), enrolled().collect_events())
    assert row["pseudonym"] == "SQ-7F3K-Q9XM"
    assert row["enrolled_on"] == date(2025, 1, 6)
    assert "link-hash-77" not in json.dumps(row, default=str)
    assert set(row) == {"subject_id", "pseudonym", "category", "labels", "enrolled_on",
                        "group_count", "clinician_count"}  # fmt: skip


def test_subject_list_labels_follow_additions_and_confidentiality() -> None:
    subject = enrolled()
    subject.add_program_labels(["SUD"])
    subject.set_confidentiality("V")
    row = only_row(SubjectList(), subject.collect_events())
    assert json.loads(row["labels"]) == json.loads(json.dumps(subject.labels))


def test_subject_list_counts_open_groups_and_clinicians() -> None:
    subject = enrolled()
    subject.add_group("G-1", date(2025, 1, 10))
    subject.add_group("G-2", date(2025, 1, 10))
    subject.add_group("G-3", date(2024, 1, 1), date(2024, 6, 1))
    subject.end_group("G-2", date(2025, 2, 1))
    subject.assign_clinician("C-1", "other", set())
    subject.assign_clinician("C-2", "other", set())
    subject.remove_clinician("C-1")
    row = only_row(SubjectList(), subject.collect_events())
    assert (row["group_count"], row["clinician_count"]) == (1, 1)


def test_subject_list_ignores_events_of_an_unknown_subject() -> None:
    subject = enrolled()
    subject.collect_events()
    subject.assign_clinician("C-1", "other", set())
    assert SubjectList().fold_all(subject.collect_events()) == {str(subject.id): None}


def test_chart_index_follows_entries_closing_and_reopening() -> None:
    chart = Chart.open("SQ-7F3K-Q9XM", SID, date(2025, 1, 7))
    for _ in range(3):
        chart.record_entry(uuid4(), "C-1", True, "assessment", None, date(2025, 1, 8), "n", NOW)
    chart.close(date(2025, 3, 1), "C-1")
    closed = only_row(ChartIndex(), list(chart.collect_events()))
    chart.reopen(date(2025, 3, 2), "C-1", "new referral")
    reopened = ChartIndex().fold(closed, chart.collect_events()[0])
    assert (closed["status"], closed["closed_on"], closed["entry_count"]) == (
        "closed", date(2025, 3, 1), 3,
    )  # fmt: skip
    assert reopened is not None
    assert (reopened["status"], reopened["closed_on"]) == ("open", None)


def test_fold_does_not_mutate_the_row_it_is_given() -> None:
    chart = Chart.open("SQ-7F3K-Q9XM", SID, date(2025, 1, 7))
    row = only_row(ChartIndex(), chart.collect_events())
    chart.close(date(2025, 3, 1), "C-1")
    ChartIndex().fold(row, chart.collect_events()[0])
    assert row["status"] == "open"


def test_effective_access_records_revocation() -> None:
    grant = Grant.issue(uuid4(), SID, "C-2", "SQ-7F3K-Q9XM", "read", "TREAT",
                        NOW + timedelta(days=1), "covering", "PO-1", NOW)  # fmt: skip
    grant.revoke("PO-1", "ended", NOW + timedelta(hours=1))
    row = only_row(EffectiveAccess(), grant.collect_events())
    assert (row["grantee"], row["scope"], row["revoked_at"]) == (
        "C-2", "read", NOW + timedelta(hours=1),
    )  # fmt: skip
    assert "justification" not in row


def test_break_glass_queue_marks_the_review_without_its_notes() -> None:
    use = BreakGlass.invoke(uuid4(), SID, "C-4", "SQ-7F3K-Q9XM", "BTG", "crisis", NOW,
                            timedelta(hours=4))  # fmt: skip
    pending = only_row(BreakGlassQueue(), use.collect_events())
    use.review("PO-1", "inappropriate", "zebra review notes", NOW + timedelta(days=1))
    reviewed = BreakGlassQueue().fold(pending, use.collect_events()[0])
    assert (pending["reviewed"], pending["expires_at"]) == (False, NOW + timedelta(hours=4))
    assert reviewed is not None
    assert (reviewed["reviewed"], reviewed["outcome"]) == (True, "inappropriate")
    assert "zebra review notes" not in json.dumps(reviewed, default=str)


# -- the dual-relationship queue agrees with the aggregate at every step ------------------
MANAGER = Actor("M-1", frozenset({"manager"}))
COUNSEL = Actor("CC-1", frozenset({"county_counsel"}))
DEPUTY = Actor("CD-1", frozenset({"clinical_deputy"}))
DIRECTOR = Actor("DIR-1", frozenset({"director"}))
DISCLOSURE = Disclosure(
    staff_id="S-7", kind="romantic", began_on=date(2023, 3, 1), predates_hire=True,
    disclosed_on=date(2024, 2, 20), disclosed_to="M-1", hired_on=date(2024, 1, 8),
    counterpart_case_status="closed", counterpart_client_ref="CL-88",
    counterpart_case_closed_on=date(2022, 6, 1),
)  # fmt: skip


def workflow(case: DualRelationshipCase, waive: bool) -> list[Any]:
    steps: list[Any] = [
        lambda: case.refer(MANAGER, date(2024, 2, 21)),
        (lambda: case.waive_guidance(DIRECTOR, "urgent", date(2024, 2, 22))) if waive
        else (lambda: case.record_guidance(COUNSEL, "counsel", date(2024, 2, 28))),
        lambda: case.recommend(DEPUTY, "exception_with_conditions", "why", date(2024, 3, 1)),
        lambda: case.decide(DIRECTOR, "exception_with_conditions", ["a", "b"], date(2024, 3, 4)),
        lambda: case.meet_condition(MANAGER, 1, date(2024, 3, 5)),
        lambda: case.meet_condition(MANAGER, 0, date(2024, 3, 6)),
        lambda: case.close(DIRECTOR, date(2024, 4, 2)),
    ]  # fmt: skip
    return steps


@pytest.mark.parametrize("waive", [False, True])
@pytest.mark.parametrize(
    "policy",
    [DualRelationshipPolicy(), DualRelationshipPolicy(refer_within_days=1, decide_within_days=30)],
)
def test_queue_step_and_due_date_match_the_aggregate(waive: bool, policy: Any) -> None:
    case = DualRelationshipCase.disclose(uuid4(), DISCLOSURE, MANAGER, policy, NOW)
    queue = DualRelationshipQueue(policy)
    row = queue.fold(None, case.collect_events()[0])
    for step in [lambda: None, *workflow(case, waive)]:
        step()
        for event in case.collect_events():
            row = queue.fold(row, event)
        assert row is not None
        assert (row["current_step"], row["next_due_on"]) == (
            case.current_step, case.next_due_on(policy),
        )  # fmt: skip
        today = date(2024, 3, 20)
        clock = with_clock(row, today)
        assert (clock["overdue"], clock["age_days"]) == (
            case.is_overdue(today, policy), case.age_days(today),
        )  # fmt: skip


def test_queue_row_keeps_flags_and_no_free_text() -> None:
    case = DualRelationshipCase.disclose(
        uuid4(), DISCLOSURE, MANAGER, DualRelationshipPolicy(), NOW
    )
    row = only_row(DualRelationshipQueue(), case.collect_events())
    assert (row["prohibited"], row["late_report"], row["closed"]) == (True, True, False)
    assert "CL-88" not in json.dumps(row, default=str)
