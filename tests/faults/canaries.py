"""Issue 6's canaries: after a fault test, the legal names and note texts it planted
appear in plain in no process log, no answer body (other than a chart read's, which is
the notes' purpose), and no column of any table in the database (events, Merkle
leaves, keys, read models, audit trail)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from psycopg import sql

from ops.bootstrap import System
from tests.faults.processes import Fleet
from tests.faults.workload import LEGAL_NAME, NOTE, Attempt

PLANTED = (LEGAL_NAME, NOTE)
#: Column types that could hold text, and how to look for a string in each.
SEARCHES = {
    "text": "strpos({c}, %s) > 0",
    "character varying": "strpos({c}, %s) > 0",
    "jsonb": "strpos({c}::text, %s) > 0",
    "bytea": "position(convert_to(%s, 'UTF8') in {c}) > 0",
}


def planted_text_found(system: System, fleet: Fleet, attempts: Iterable[Attempt]) -> list[str]:
    """Where planted text was found in plain (empty: nowhere)."""
    found = [f"log of {p.name}" for p in fleet.processes
             if any(s in p.log.read_text(errors="replace") for s in PLANTED)]
    found += [f"answer to {a.request_id}" for a in attempts
              if any(s in json.dumps(a.body) for s in PLANTED)]
    return found + columns_holding(system, PLANTED)


def columns_holding(system: System, planted: Iterable[str]) -> list[str]:
    """`table.column` of every column in the system's PostgreSQL schema holding any of
    `planted` (a positive control in the tests below shows that the search can find)."""
    datastore = system.infrastructure.recorder.datastore
    schema = datastore.schema
    found = []
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s", (schema,))
        columns = [(r["table_name"], r["column_name"], r["data_type"]) for r in cursor.fetchall()]
        for table, column, kind in columns:
            if kind not in SEARCHES:
                continue
            for text in planted:
                cursor.execute(sql.SQL("SELECT 1 FROM {t} WHERE " + SEARCHES[kind] + " LIMIT 1").format(
                    t=sql.Identifier(schema, table), c=sql.Identifier(column)), (text,))
                if cursor.fetchone():
                    found.append(f"{table}.{column}")
    return found
