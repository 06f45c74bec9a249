"""The chart context: one append-only chart per sequestered subject, under its pseudonym."""

from domain.charts.activities import (
    ACTIVITY_TYPES,
    FORBIDDEN_ACTIVITY_TYPES,
    NO_SELF_HELP_CHARTING,
    forbidden_mention,
)
from domain.charts.aggregate import CHART_NAMESPACE, Chart, ChartEntry, chart_uuid
from domain.charts.application import ChartsApplication

__all__ = [
    "ACTIVITY_TYPES",
    "CHART_NAMESPACE",
    "FORBIDDEN_ACTIVITY_TYPES",
    "NO_SELF_HELP_CHARTING",
    "Chart",
    "ChartEntry",
    "ChartsApplication",
    "chart_uuid",
    "forbidden_mention",
]
