"""Plausible calendar dates: the bounds every recorded day is checked against.

A date far outside the agency's life (enrolled on 9999-12-31, hired on 0001-01-01) is a
typing error, never a fact; refused with the bound it broke (422), it changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.errors import OutOfRange

#: The earliest day sequester records (a birth date, a hire, an enrolment).
EARLIEST = date(1900, 1, 1)
#: How far ahead a planned day may lie (a hire agreed for next year, a group's end).
PLANNED_AHEAD = timedelta(days=366)


def today() -> date:
    """The agency's calendar day (UTC)."""
    return datetime.now(UTC).date()


def plausible_day(day: date, what: str, *, ahead: timedelta = timedelta(0),
                  on: date | None = None) -> date:
    """`day`, if it lies between `EARLIEST` and `on` (default today) plus `ahead`."""
    latest = (on or today()) + ahead
    if day < EARLIEST:
        raise OutOfRange(f"{what} {day} is before {EARLIEST}, the earliest date recorded")
    if day > latest:
        raise OutOfRange(f"{what} {day} is after {latest}, the latest date it may have")
    return day
