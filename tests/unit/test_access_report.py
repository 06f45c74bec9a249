"""Reading the audit trail back: log order, filters, and the per-subject access report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.audit.report import access_report, filter_entries, iter_audit_entries
from domain.audit.trail import AuditEntry
from domain.errors import InvalidInput
from ops.bootstrap import System

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
MINE, OTHER = "SQ-7F3K-Q9XM", "SQ-ABCD-EFGH"


def entry(minutes: int = 0, **changes: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "principal": "CLIN-1",
        "roles": ["clinician"],
        "action": "chart.read",
        "target": MINE,
        "decision": "allowed",
        "rule": "grant",
        "at": T0 + timedelta(minutes=minutes),
        "request_id": f"req-{minutes}",
        "purpose": "TREAT",
    }
    fields.update(changes)
    return AuditEntry(**fields)


def store(system: System, *entries: AuditEntry) -> list[int]:
    return [system.audit.record(e) for e in entries]


# --- iter_audit_entries --------------------------------------------------------------------


def test_entries_come_back_in_log_order_with_their_positions(memory_system: System) -> None:
    stored = [entry(3), entry(1), entry(2)]
    positions = store(memory_system, *stored)
    read = list(iter_audit_entries(memory_system))
    assert [p for p, _ in read] == positions
    assert [e["record_id"] for _, e in read] == [e.record_id for e in stored]


def test_only_audit_records_are_read(memory_system: System) -> None:
    from datetime import date

    memory_system.staff.hire("S-1", "A", "clinician", ["clinician"], date(2024, 1, 8))
    store(
        memory_system, entry(decision="denied", rule="sequestration", director_rule="self_access")
    )
    read = [e for _, e in iter_audit_entries(memory_system)]
    assert len(read) == 1 and "director_rule" not in read[0]


def test_after_skips_what_was_already_read(memory_system: System) -> None:
    first, second = store(memory_system, entry(1), entry(2))
    assert [p for p, _ in iter_audit_entries(memory_system, after=first)] == [second]
    assert list(iter_audit_entries(memory_system, after=second)) == []


def test_entries_are_read_across_pages(
    memory_system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("domain.audit.report.PAGE_SIZE", 2)
    positions = store(memory_system, *(entry(n) for n in range(5)))
    assert [p for p, _ in iter_audit_entries(memory_system)] == positions


def test_an_empty_trail_reads_as_nothing(memory_system: System) -> None:
    assert list(iter_audit_entries(memory_system)) == []


# --- filter_entries ------------------------------------------------------------------------

TRAIL = [
    entry(0).public(),
    entry(10, principal="MGR-1", roles=["manager"], decision="denied", rule="no_grant").public(),
    entry(20, action="chart.write", target=OTHER).public(),
    entry(30, action="grant.create", target="g-1", principal="PO-1").public(),
]


def picked(**filters: Any) -> list[str]:
    return [e["request_id"] for e in filter_entries(TRAIL, **filters)]


def test_no_filter_keeps_everything() -> None:
    assert picked() == ["req-0", "req-10", "req-20", "req-30"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"principal": "MGR-1"}, ["req-10"]),
        ({"target": OTHER}, ["req-20"]),
        ({"action": "chart.write"}, ["req-20"]),
        ({"action": "chart.*"}, ["req-0", "req-10", "req-20"]),
        ({"decision": "denied"}, ["req-10"]),
        ({"since": T0 + timedelta(minutes=10)}, ["req-10", "req-20", "req-30"]),
        ({"until": T0 + timedelta(minutes=20)}, ["req-0", "req-10"]),
        ({"principal": "CLIN-1", "action": "chart.*"}, ["req-0", "req-20"]),
    ],
)
def test_each_filter_narrows(filters: dict[str, Any], expected: list[str]) -> None:
    assert picked(**filters) == expected


def test_an_unknown_decision_is_refused() -> None:
    with pytest.raises(InvalidInput, match="decision"):
        picked(decision="maybe")


def test_a_naive_window_is_refused() -> None:
    with pytest.raises(InvalidInput, match="since"):
        picked(since=datetime(2024, 3, 1))


def test_a_window_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput, match="until is before since"):
        picked(since=T0, until=T0 - timedelta(minutes=1))


def test_entries_from_json_filter_by_time() -> None:
    as_json = [{**e, "at": e["at"].isoformat()} for e in TRAIL]
    found = filter_entries(as_json, since=T0 + timedelta(minutes=25))
    assert [e["request_id"] for e in found] == ["req-30"]


# --- access_report -------------------------------------------------------------------------


def test_the_report_lists_every_access_to_the_chart_in_time_order() -> None:
    trail = [
        entry(20, action="chart.write", purpose="TREAT").public(),
        entry(
            5,
            principal="MGR-1",
            roles=["manager"],
            decision="denied",
            rule="sequestration",
            purpose="HOPERAT",
        ).public(),
        entry(10, target=OTHER).public(),
    ]
    report = access_report(trail, MINE)
    assert [line["request_id"] for line in report] == ["req-5", "req-20"]
    assert report[0] == {
        "at": (T0 + timedelta(minutes=5)).isoformat(),
        "principal": "MGR-1",
        "roles": ["manager"],
        "action": "chart.read",
        "purpose": "HOPERAT",
        "decision": "denied",
        "rule": "sequestration",
        "request_id": "req-5",
        "record_id": str(trail[1]["record_id"]),
    }


def test_the_report_includes_denied_and_failed_attempts() -> None:
    trail = [entry(1, decision="denied").public(), entry(2, decision="failed").public()]
    assert [line["decision"] for line in access_report(trail, MINE)] == ["denied", "failed"]


def test_the_report_covers_every_action_on_the_subject() -> None:
    trail = [
        entry(1, action="subject.resolve", principal="DIR-1", roles=["director"]).public(),
        entry(2, action="break_glass.invoke", purpose="ETREAT").public(),
    ]
    assert [line["action"] for line in access_report(trail, MINE)] == [
        "subject.resolve",
        "break_glass.invoke",
    ]


def test_entries_at_the_same_instant_keep_their_log_order() -> None:
    trail = [entry(1, request_id="a").public(), entry(1, request_id="b").public()]
    assert [line["request_id"] for line in access_report(trail, MINE)] == ["a", "b"]


def test_a_lower_case_pseudonym_gives_the_same_report() -> None:
    trail = [entry(1).public()]
    assert access_report(trail, MINE.lower()) == access_report(trail, MINE)


def test_a_malformed_pseudonym_is_refused_without_echo() -> None:
    with pytest.raises(InvalidInput) as refused:
        access_report([], "Zelda Quartermain")
    assert "Zelda" not in refused.value.detail


def test_a_subject_nobody_accessed_has_an_empty_report() -> None:
    assert access_report([entry(1, target=OTHER).public()], MINE) == []


def test_the_report_reads_the_stored_trail(memory_system: System) -> None:
    store(memory_system, entry(2), entry(1, target=OTHER), entry(0, action="chart.write"))
    trail = (e for _, e in iter_audit_entries(memory_system))
    report = access_report(trail, MINE)
    assert [(line["action"], line["request_id"]) for line in report] == [
        ("chart.write", "req-0"),
        ("chart.read", "req-2"),
    ]
