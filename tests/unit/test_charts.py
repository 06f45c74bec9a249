"""The chart: opening, appending entries, corrections and the charting rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest

from domain.charts import ChartsApplication, chart_uuid
from domain.charts.aggregate import MAX_NOTE_CHARS
from domain.errors import AlreadyExists, InvalidInput, NotFound, RuleViolation, SequesterError
from ops.bootstrap import System
from tests import canaries

P = "SQ-7F3K-Q9XM"
SUBJECT = uuid5(UUID(int=0), "subject")
OPENED = date(2024, 3, 1)
AT = datetime(2024, 3, 10, 15, 30, tzinfo=UTC)
NOTE = "Client discussed the Marrowgate custody hearing at length."
canaries.plant(NOTE, "Marrowgate")


@pytest.fixture
def charts(memory_system: System) -> ChartsApplication:
    app = ChartsApplication(memory_system.infrastructure)
    app.open(P, SUBJECT, OPENED)
    return app


def add(app: ChartsApplication, **overrides: Any) -> tuple[UUID, int]:
    fields: dict[str, Any] = {
        "author": "S-1",
        "author_charts": True,
        "activity_type": "individual_session",
        "service_code": "90837",
        "service_date": date(2024, 3, 10),
        "note": NOTE,
        "recorded_at": AT,
    }
    fields.update(overrides)
    return app.add_entry(P, **fields)


def refused(action: Callable[[], object], error: type[SequesterError]) -> SequesterError:
    """Run a refused action, and check the refusal never echoes the note."""
    with pytest.raises(error) as err:
        action()
    assert "Marrowgate" not in str(err.value) and "Marrowgate" not in err.value.detail
    return err.value


def test_open_keys_the_chart_by_pseudonym_and_keeps_the_subject(charts: ChartsApplication) -> None:
    chart = charts.get(P)
    assert chart.id == chart_uuid(P) == uuid5(uuid5(NAMESPACE_URL, "urn:sequester:chart"), P)
    assert (chart.pseudonym, chart.subject_id, chart.data_subject_id) == (P, SUBJECT, SUBJECT)
    assert (chart.opened_on, chart.status, chart.closed_on, chart.entries) == (
        OPENED,
        "open",
        None,
        [],
    )


def test_chart_is_encrypted_under_the_subjects_key_scope(charts: ChartsApplication) -> None:
    assert charts.get(P).key_scope == ("events", SUBJECT)


def test_opening_an_existing_chart_is_refused(charts: ChartsApplication) -> None:
    with pytest.raises(AlreadyExists, match=P):
        charts.open(P, SUBJECT, OPENED)


def test_opening_needs_a_subject_uuid(memory_system: System) -> None:
    app = ChartsApplication(memory_system.infrastructure)
    with pytest.raises(InvalidInput):
        app.open(P, "not-a-uuid", OPENED)  # type: ignore[arg-type]
    assert not app.exists(P)


def test_exists_only_after_opening(memory_system: System) -> None:
    app = ChartsApplication(memory_system.infrastructure)
    assert not app.exists(P)
    app.open(P, SUBJECT, OPENED)
    assert app.exists(P)


def test_missing_chart_is_not_found_by_pseudonym(charts: ChartsApplication) -> None:
    with pytest.raises(NotFound, match="chart SQ-0000-0000 does not exist"):
        charts.get("SQ-0000-0000")


def test_entry_is_appended_with_every_field(charts: ChartsApplication) -> None:
    entry_id, position = add(charts)
    (entry,) = charts.get(P).entries
    assert position > 0
    assert (entry.entry_id, entry.author, entry.activity_type, entry.service_code) == (
        entry_id,
        "S-1",
        "individual_session",
        "90837",
    )
    assert (entry.service_date, entry.note, entry.recorded_at, entry.corrects) == (
        date(2024, 3, 10),
        NOTE,
        AT,
        None,
    )


def test_entry_repr_never_shows_the_note(charts: ChartsApplication) -> None:
    add(charts)
    assert "Marrowgate" not in repr(charts.get(P))


def test_service_code_is_optional(charts: ChartsApplication) -> None:
    add(charts, service_code=None)
    assert charts.get(P).entries[0].service_code is None


def test_author_whose_title_charts_may_write(charts: ChartsApplication) -> None:
    add(charts, author="RSS-2", author_charts=True)
    assert charts.get(P).entries[0].author == "RSS-2"


def test_author_whose_title_does_not_chart_is_refused(charts: ChartsApplication) -> None:
    err = refused(lambda: add(charts, author="ENG-1", author_charts=False), RuleViolation)
    assert isinstance(err, RuleViolation) and err.rule == "title_does_not_chart"
    assert "ENG-1" in err.detail
    assert charts.get(P).entries == []


def test_forbidden_activity_type_is_refused(charts: ChartsApplication) -> None:
    err = refused(lambda: add(charts, activity_type="aa_meeting"), RuleViolation)
    assert isinstance(err, RuleViolation) and err.rule == "no_self_help_charting"
    assert charts.get(P).entries == []


def test_service_code_naming_a_12_step_meeting_is_refused(charts: ChartsApplication) -> None:
    err = refused(lambda: add(charts, service_code="12-Step group"), RuleViolation)
    assert isinstance(err, RuleViolation) and err.rule == "no_self_help_charting"


def test_note_mentioning_a_meeting_is_not_the_rules_business(charts: ChartsApplication) -> None:
    """The rule forbids charting the activity, not a client's own account of attending."""
    add(charts, note="Client reports attending AA meetings twice weekly.")
    assert len(charts.get(P).entries) == 1


def test_unknown_activity_type_is_invalid(charts: ChartsApplication) -> None:
    err = refused(lambda: add(charts, activity_type="yoga"), InvalidInput)
    assert "case_management" in err.detail


def test_service_on_the_recording_day_is_allowed(charts: ChartsApplication) -> None:
    add(charts, service_date=AT.date())
    assert charts.get(P).entries[0].service_date == AT.date()


def test_service_after_the_recording_date_is_refused(charts: ChartsApplication) -> None:
    refused(lambda: add(charts, service_date=AT.date() + timedelta(days=1)), InvalidInput)


def test_service_on_the_opening_day_is_allowed(charts: ChartsApplication) -> None:
    add(charts, service_date=OPENED)
    assert charts.get(P).entries[0].service_date == OPENED


def test_service_before_the_chart_opened_is_refused(charts: ChartsApplication) -> None:
    err = refused(lambda: add(charts, service_date=OPENED - timedelta(days=1)), InvalidInput)
    assert str(OPENED) in err.detail


def test_naive_recording_time_is_refused(charts: ChartsApplication) -> None:
    refused(lambda: add(charts, recorded_at=AT.replace(tzinfo=None)), InvalidInput)


@pytest.mark.parametrize("note", ["", "   \n"])
def test_blank_note_is_refused(charts: ChartsApplication, note: str) -> None:
    refused(lambda: add(charts, note=note), InvalidInput)


def test_note_at_the_length_limit_is_allowed(charts: ChartsApplication) -> None:
    add(charts, note="x" * MAX_NOTE_CHARS)
    assert len(charts.get(P).entries[0].note) == MAX_NOTE_CHARS


def test_overlong_note_is_refused_without_echoing_it(charts: ChartsApplication) -> None:
    refused(lambda: add(charts, note="Marrowgate " * 2000), InvalidInput)


def test_blank_author_is_refused(charts: ChartsApplication) -> None:
    refused(lambda: add(charts, author=" "), InvalidInput)


def test_correction_is_a_new_entry_superseding_the_old(charts: ChartsApplication) -> None:
    first, _ = add(charts)
    second, _ = add(charts, note="Corrected: hearing date moved.", corrects=first)
    chart = charts.get(P)
    assert [e.entry_id for e in chart.entries] == [first, second]
    assert [e.entry_id for e in chart.current_entries()] == [second]
    assert chart.entries[0].note == NOTE


def test_an_entry_may_be_corrected_several_times(charts: ChartsApplication) -> None:
    first, _ = add(charts)
    a, _ = add(charts, corrects=first)
    b, _ = add(charts, corrects=first)
    chart = charts.get(P)
    assert [e.entry_id for e in chart.current_entries()] == [a, b]
    assert [e.entry_id for e in chart.corrections_of(first)] == [a, b]


def test_a_correction_may_itself_be_corrected(charts: ChartsApplication) -> None:
    first, _ = add(charts)
    second, _ = add(charts, corrects=first)
    third, _ = add(charts, corrects=second)
    assert [e.entry_id for e in charts.get(P).current_entries()] == [third]


def test_correcting_an_unknown_entry_is_refused(charts: ChartsApplication) -> None:
    add(charts)
    missing = uuid4()
    err = refused(lambda: add(charts, corrects=missing), InvalidInput)
    assert str(missing) in err.detail
    assert len(charts.get(P).entries) == 1


def test_correcting_an_entry_of_another_chart_is_refused(charts: ChartsApplication) -> None:
    charts.open("SQ-AAAA-BBBB", uuid4(), OPENED)
    other, _ = charts.add_entry(
        "SQ-AAAA-BBBB", "S-1", True, "assessment", None, date(2024, 3, 10), NOTE, AT
    )
    refused(lambda: add(charts, corrects=other), InvalidInput)


def test_a_correction_obeys_the_charting_rules_too(charts: ChartsApplication) -> None:
    first, _ = add(charts)
    err = refused(lambda: add(charts, activity_type="self_help", corrects=first), RuleViolation)
    assert isinstance(err, RuleViolation) and err.rule == "no_self_help_charting"


def test_duplicate_entry_id_is_refused(charts: ChartsApplication) -> None:
    chart = charts.get(P)
    entry_id = uuid4()
    args = ("S-1", True, "assessment", None, date(2024, 3, 10), NOTE, AT)
    chart.record_entry(entry_id, *args)
    with pytest.raises(AlreadyExists):
        chart.record_entry(entry_id, *args)


def test_a_chart_to_change_is_a_copy_the_read_chart_never_sees_changed(
    charts: ChartsApplication,
) -> None:
    add(charts)
    read = charts.current(P)
    state = (read.version, list(read.entries), [dict(c) for c in read.closures], read.status)
    changing = charts.to_change(P)
    changing.record_entry(uuid4(), "S-1", True, "individual_session", None, date(2024, 3, 11),
                          "later", AT + timedelta(days=1))
    changing.close(date(2024, 3, 12), "S-1")
    changing.reopen(date(2024, 3, 13), "S-1", "returned")
    assert (read.version, read.entries, read.closures, read.status) == state
    assert read.pending_events == [] and len(changing.pending_events) == 3
    charts.commit(changing)
    fresh = charts.get(P)
    assert charts.current(P).__dict__ == fresh.__dict__ == changing.__dict__
    assert fresh.closures[0]["reopen_reason"] == "returned"
