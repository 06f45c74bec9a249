"""The chart over time: closing, reopening, the state as of a time, and replay."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import AggregateEvent

from domain.charts import Chart, ChartsApplication, chart_uuid
from domain.errors import InvalidInput, NotFound, RuleViolation
from ops.bootstrap import System
from tests import canaries

P = "SQ-H1ST-0RY2"
SUBJECT = UUID("0b5d8a4e-1c2f-4a55-9e0f-2d7c3b1a6e90")
OPENED = date(2024, 3, 1)
AT = datetime(2024, 3, 10, 15, 30, tzinfo=UTC)
NOTE = "Discussed the Thornquist inheritance dispute."
canaries.plant(NOTE)


@pytest.fixture
def charts(memory_system: System) -> ChartsApplication:
    app = ChartsApplication(memory_system.infrastructure)
    app.open(P, SUBJECT, OPENED)
    return app


def add(app: ChartsApplication, service_date: date = date(2024, 3, 10), **kw: Any) -> UUID:
    entry_id, _ = app.add_entry(
        P, "S-1", True, "case_management", None, service_date, NOTE, AT, **kw
    )
    return entry_id


def test_close_keeps_the_closing_date(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    chart = charts.get(P)
    assert (chart.status, chart.closed_on) == ("closed", date(2024, 6, 30))
    assert chart.closures == [
        {
            "closed_on": date(2024, 6, 30),
            "closed_by": "DIR-1",
            "reopened_on": None,
            "reopened_by": None,
            "reopen_reason": None,
        }
    ]


def test_closing_on_the_opening_day_is_allowed(charts: ChartsApplication) -> None:
    charts.close_chart(P, OPENED, "DIR-1")
    assert charts.get(P).closed_on == OPENED


def test_closing_before_the_opening_is_refused(charts: ChartsApplication) -> None:
    with pytest.raises(InvalidInput, match="before its opening"):
        charts.close_chart(P, OPENED - timedelta(days=1), "DIR-1")
    assert charts.get(P).status == "open"


def test_closing_on_the_last_service_date_is_allowed(charts: ChartsApplication) -> None:
    add(charts, date(2024, 3, 10))
    charts.close_chart(P, date(2024, 3, 10), "DIR-1")
    assert charts.get(P).closed_on == date(2024, 3, 10)


def test_closing_before_the_last_service_date_is_refused(charts: ChartsApplication) -> None:
    add(charts, date(2024, 3, 10))
    with pytest.raises(InvalidInput, match="last service date 2024-03-10"):
        charts.close_chart(P, date(2024, 3, 9), "DIR-1")


def test_closing_a_closed_chart_is_refused(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    with pytest.raises(RuleViolation) as err:
        charts.close_chart(P, date(2024, 7, 1), "DIR-1")
    assert err.value.rule == "chart_already_closed"
    assert charts.get(P).closed_on == date(2024, 6, 30)


def test_entries_on_a_closed_chart_are_refused(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    with pytest.raises(RuleViolation) as err:
        add(charts)
    assert err.value.rule == "chart_closed"
    assert "Thornquist" not in err.value.detail
    assert charts.get(P).entries == []


def test_reopen_opens_the_chart_and_keeps_the_closure(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    charts.reopen(P, date(2024, 9, 1), "DIR-2", "client returned to services")
    chart = charts.get(P)
    assert (chart.status, chart.closed_on) == ("open", None)
    assert chart.closures == [
        {
            "closed_on": date(2024, 6, 30),
            "closed_by": "DIR-1",
            "reopened_on": date(2024, 9, 1),
            "reopened_by": "DIR-2",
            "reopen_reason": "client returned to services",
        }
    ]


def test_reopening_an_open_chart_is_refused(charts: ChartsApplication) -> None:
    with pytest.raises(RuleViolation) as err:
        charts.reopen(P, date(2024, 9, 1), "DIR-1", "returned")
    assert err.value.rule == "chart_not_closed"


def test_reopening_before_the_closure_is_refused(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    with pytest.raises(InvalidInput, match="before it closed"):
        charts.reopen(P, date(2024, 6, 29), "DIR-1", "returned")
    assert charts.get(P).status == "closed"


def test_reopening_on_the_closing_day_is_allowed(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    charts.reopen(P, date(2024, 6, 30), "DIR-1", "closed in error")
    assert charts.get(P).status == "open"


def test_reopening_needs_a_reason(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    with pytest.raises(InvalidInput, match="reason"):
        charts.reopen(P, date(2024, 9, 1), "DIR-1", "  ")


def test_a_reopened_chart_accepts_entries_and_closes_again(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    charts.reopen(P, date(2024, 9, 1), "DIR-1", "returned")
    add(charts, date(2024, 3, 10))
    charts.close_chart(P, date(2025, 1, 31), "DIR-1")
    chart = charts.get(P)
    assert (chart.closed_on, len(chart.closures), len(chart.entries)) == (date(2025, 1, 31), 2, 1)


def test_a_second_closure_cannot_precede_the_reopening(charts: ChartsApplication) -> None:
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    charts.reopen(P, date(2024, 9, 1), "DIR-1", "returned")
    with pytest.raises(InvalidInput, match="reopening on 2024-09-01"):
        charts.close_chart(P, date(2024, 8, 1), "DIR-1")


def stored_events(app: ChartsApplication) -> list[AggregateEvent]:
    return [e for e in app.events.get(chart_uuid(P)) if isinstance(e, AggregateEvent)]


def timestamps(app: ChartsApplication) -> list[datetime]:
    return [e.timestamp for e in stored_events(app)]


def replay(events: list[AggregateEvent]) -> Chart:
    """Fold events from nothing, as the repository does (no snapshots)."""
    chart: Chart | None = None
    for domain_event in events:
        chart = domain_event.mutate(chart)
    assert isinstance(chart, Chart)
    return chart


def test_as_of_shows_the_chart_as_it_was(charts: ChartsApplication) -> None:
    add(charts)
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    opened, entered, closed = timestamps(charts)
    before_close = charts.as_of(P, entered + (closed - entered) / 2)
    assert (before_close.version, before_close.status, len(before_close.entries)) == (2, "open", 1)
    assert charts.as_of(P, opened).entries == []
    assert charts.as_of(P, closed).status == "closed"


def test_as_of_is_equal_to_the_versioned_state(charts: ChartsApplication) -> None:
    add(charts)
    _, entered = timestamps(charts)
    assert charts.as_of(P, entered) == charts.get(P, version=2)


def test_as_of_before_opening_is_not_found(charts: ChartsApplication) -> None:
    (opened,) = timestamps(charts)
    with pytest.raises(NotFound, match="did not exist"):
        charts.as_of(P, opened - timedelta(microseconds=1))


def test_as_of_needs_an_aware_time(charts: ChartsApplication) -> None:
    with pytest.raises(InvalidInput):
        charts.as_of(P, datetime(2024, 3, 10))


def test_as_of_an_unknown_chart_is_not_found(charts: ChartsApplication) -> None:
    with pytest.raises(NotFound, match="chart SQ-NONE-0000 does not exist"):
        charts.as_of("SQ-NONE-0000", datetime.now(UTC))


def state(chart: Chart) -> dict[str, Any]:
    return {k: v for k, v in vars(chart).items() if k != "_pending_events"}


def test_every_version_equals_the_replay_of_its_prefix() -> None:
    """Domain level: snapshot after each command equals the fold of the events so far."""
    chart = Chart.open(P, SUBJECT, OPENED)
    snapshots = [copy.deepcopy(state(chart))]
    first = uuid4()
    commands: list[Callable[[], None]] = [
        lambda: chart.record_entry(first, "S-1", True, "assessment", "H0031", OPENED, NOTE, AT),
        lambda: chart.record_entry(
            uuid4(), "S-2", True, "peer_support", None, date(2024, 3, 9), NOTE, AT, corrects=first
        ),
        lambda: chart.close(date(2024, 6, 30), "DIR-1"),
        lambda: chart.reopen(date(2024, 9, 1), "DIR-1", "returned"),
        lambda: chart.close(date(2024, 10, 1), "DIR-1"),
    ]
    for command in commands:
        command()
        snapshots.append(copy.deepcopy(state(chart)))
    events = [e for e in chart.collect_events() if isinstance(e, AggregateEvent)]
    assert len(events) == len(snapshots)
    for version, snapshot in enumerate(snapshots, start=1):
        assert state(replay(events[:version])) == snapshot


def test_stored_versions_equal_the_replay_of_stored_events(charts: ChartsApplication) -> None:
    first = add(charts)
    add(charts, corrects=first)
    charts.close_chart(P, date(2024, 6, 30), "DIR-1")
    charts.reopen(P, date(2024, 9, 1), "DIR-1", "returned")
    events = stored_events(charts)
    assert len(events) == 5
    for version in range(1, len(events) + 1):
        assert charts.get(P, version=version) == replay(events[:version])
    assert charts.get(P) == replay(events)
