"""`sequester audit rebuild`: every read model rebuilt from zero must equal the live one.

Differences name the table, the row key and the column, never the values (a cell could
hold a sealed note or anything else a log must not carry).
"""

from __future__ import annotations

from typing import Any

from projections.base import Projection, Row
from projections.runner import ProjectionRunner
from projections.tables import Table


def _rows(runner: ProjectionRunner, projection: Projection, table: Table) -> dict[Any, Row]:
    with runner.db.read() as tx:
        return {r[table.key]: projection.comparable(table, r) for r in tx.rows(table)}


def compare_table(
    live: ProjectionRunner, scratch: ProjectionRunner, projection: Projection, table: Table
) -> list[str]:
    name = live.db.prefix + table.name
    ours, theirs = _rows(live, projection, table), _rows(scratch, projection, table)
    differences = []
    for key in sorted(ours.keys() | theirs.keys(), key=str):
        if key not in theirs:
            differences.append(f"{name} key={key}: missing from the rebuild")
        elif key not in ours:
            differences.append(f"{name} key={key}: only in the rebuild")
        else:
            differences.extend(
                f"{name} key={key} column={column}"
                for column in table.names
                if ours[key].get(column) != theirs[key].get(column)
            )
    return differences


def compare(live: ProjectionRunner, scratch: ProjectionRunner) -> list[str]:
    """Every difference between the live views and a rebuild (empty: they are equal)."""
    differences = []
    ours, theirs = live.positions(), scratch.positions()
    for projection in live.projections:
        if ours[projection.name] != theirs.get(projection.name):
            differences.append(
                f"{projection.name}: live at position {ours[projection.name]}, "
                f"rebuild at {theirs.get(projection.name)}"
            )
        for table in projection.tables:
            differences.extend(compare_table(live, scratch, projection, table))
    return differences


def audit_rebuild(
    live: ProjectionRunner, into_prefix: str = "rm_scratch_", processes: int = 1
) -> list[str]:
    """Catch the live views up, rebuild into scratch tables (in `processes` processes),
    compare, drop the scratch."""
    live.catch_up()
    scratch = live.rebuild(into_prefix, processes=processes)
    try:
        return compare(live, scratch)
    finally:
        scratch.drop()
