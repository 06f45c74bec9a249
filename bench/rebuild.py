"""`sequester bench rebuild`: rebuild every read model and verify the Merkle log over
100,000 domain events plus their audit records, on SQLite and PostgreSQL, beside:

- the raw floor: the driver reading the same rows and AES-GCM-decrypting each payload
  (keys unwrapped beforehand), with no library code;
- the one-transaction-per-event pattern of the library's projections (each event and
  its tracking record in its own transaction), measured over a prefix of the log.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.crypto import POSTGRES_URL, database
from domain.audit.trail import AuditEntry, audited_command
from domain.charts.aggregate import Chart
from ops.bootstrap import (
    System,
    build,
    checkpoint_signer,
    ensure_development_keys,
    projection_runner,
)
from ops.cipher import HEADER_BYTES, NONCE_BYTES, event_aad
from ops.ledger_verify import verify
from ops.settings import Settings

NOTE = "Session note: reviewed goals, coping strategies and next steps. " * 2


def populate(system: System, domain_events: int, per_command: int = 10) -> int:
    """Charts with entries, `per_command` entries per command, each command audited."""
    now = datetime.now(UTC)
    commands = domain_events // per_command
    for n in range(commands):
        chart = Chart.open(f"SQ-B{n // 10000:03d}-{n % 10000:04d}", uuid.uuid4(), date(2024, 1, 1))
        for i in range(per_command - 1):
            chart.record_entry(uuid.uuid4(), "C-1", True, "individual_session", "H0004",
                               date(2024, 2, 1), NOTE, now)
        entry = AuditEntry("C-1", ["clinician"], "chart.write", chart.pseudonym, "allowed",
                           "grant", now, request_id=f"bench-{n}")
        with audited_command(entry):
            system.charts.commit(chart)
    return system.infrastructure.recorder.max_notification_id() or 0


def raw_floor(system: System) -> float:
    """Seconds to read every row with the driver and AES-GCM-decrypt it."""
    keys = {r.key_id.bytes: system.keyring.decryption_key(r.key_id)
            for r in system.keyring.store.live(10**9)}
    settings = system.settings
    started = time.perf_counter()
    if settings.is_postgres:
        schema = system.infrastructure.env["POSTGRES_SCHEMA"]
        with psycopg.connect(POSTGRES_URL) as conn, conn.cursor() as cur:
            cur.execute(f'SELECT originator_id, originator_version, topic, state FROM "{schema}".sequester_events ORDER BY notification_id')
            rows = cur.fetchall()
    else:
        with sqlite3.connect(settings.sqlite_path()) as db:
            rows = db.execute("SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid").fetchall()
    for oid, version, topic, state in rows:
        header = state[:HEADER_BYTES]
        aad = event_aad(header, oid if isinstance(oid, uuid.UUID) else uuid.UUID(oid), version, topic)
        keys[header[1:]].decrypt(state[HEADER_BYTES:HEADER_BYTES + NONCE_BYTES],
                                 state[HEADER_BYTES + NONCE_BYTES:], aad)
    return time.perf_counter() - started


def per_event_pattern(system: System, sample: int) -> float:
    """Events/s of one read model (the chart index) applying one event per transaction
    with its tracking record: the library's projection pattern."""
    from projections.runner import ProjectionRunner

    everything = projection_runner(system, prefix="rm_perevent_")
    chart_index = [p for p in everything.projections if p.name == "chart_index"]
    runner = ProjectionRunner(system, chart_index, batch_size=1, prefix="rm_perevent_")
    started = time.perf_counter()
    runner.catch_up(stop=sample)
    elapsed = time.perf_counter() - started
    runner.drop()
    return sample / elapsed


def timed_rebuild(system: System, total: int, processes: int) -> float:
    """Seconds to rebuild every read model from zero into scratch tables."""
    assert system.projections is not None
    started = time.perf_counter()
    scratch = system.projections.rebuild(into_prefix="rm_bench_", stop=total, processes=processes)
    elapsed = time.perf_counter() - started
    assert min(scratch.positions().values()) == total
    scratch.drop()
    return elapsed


def run_backend(backend: str, events: int, processes: int, workdir: Path,
                key_dir: Path) -> dict[str, Any]:
    with database(backend, workdir) as url:
        system = build(Settings(database_url=url, key_dir=key_dir, log_level="WARNING"))
        total = populate(system, events)
        assert system.ledger is not None
        one_process_s = timed_rebuild(system, total, 1)
        rebuild_s = timed_rebuild(system, total, processes)
        started = time.perf_counter()
        report = verify(system.ledger, [checkpoint_signer(system.settings).verifier_key()])
        verify_s = time.perf_counter() - started
        assert report.ok, report.problems
        raw_s = raw_floor(system)
        library_eps = per_event_pattern(system, sample=min(5000, total))
        system.close()
    rates = {"rebuild": total / rebuild_s, "rebuild_one_process": total / one_process_s,
             "verify": total / verify_s, "raw_floor": total / raw_s,
             "per_event_pattern": library_eps}
    return {
        "events": total,
        "rebuild_processes": processes,
        "rebuild_vs_library": round(rates["rebuild"] / library_eps, 2),
        "rebuild_vs_raw": round(rates["rebuild"] / rates["raw_floor"], 3),
        "rebuild_one_process_vs_raw": round(rates["rebuild_one_process"] / rates["raw_floor"], 3),
        "verify_vs_raw": round(rates["verify"] / rates["raw_floor"], 3),
        "events_per_s": {k: round(v) for k, v in rates.items()},
    }


def main(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sequester-bench-") as tmp:
        workdir = Path(tmp)
        key_dir = workdir / "keys"
        ensure_development_keys(Settings(key_dir=key_dir))
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            report[backend] = run_backend(backend, args.events, args.processes, workdir, key_dir)
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0
