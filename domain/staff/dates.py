"""Calendar arithmetic shared by credentials, Rule 132 and teams (pure, no clock)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

#: A year of experience, counted in days served (Rule 132 names years, not calendar dates).
YEAR_DAYS = 365
ONE_DAY = timedelta(days=1)


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 28 February in common
    years (an anniversary never falls after the day it is due)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age_on(birth_date: date, on: date) -> int:
    """Completed years of age on `on`: a person born on 29 February turns a year older
    on 1 March in common years."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)


def birthday_of_age(birth_date: date, years: int) -> date:
    """The first day on which a person born on `birth_date` is `years` old."""
    day = add_years(birth_date, years)
    return day if age_on(birth_date, day) >= years else day + ONE_DAY


def days_covered(periods: Iterable[tuple[date, date]]) -> int:
    """Days in the union of inclusive [start, end] periods: overlaps count once."""
    return sum((end - start).days + 1 for start, end in merge_periods(periods))


def merge_periods(periods: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """The union of inclusive periods as disjoint, non-adjacent periods in date order."""
    merged: list[tuple[date, date]] = []
    for start, end in sorted(periods):
        if end < start:
            continue
        if merged and start <= merged[-1][1] + ONE_DAY:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
