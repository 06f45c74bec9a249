"""Two `sequester serve` processes and one `sequester project` worker on one PostgreSQL:
concurrent clients write to one chart and to several through both APIs; every
acknowledged write is in the events, the read models and the audit trail exactly once,
and racing writes that lose leave nothing behind but their own audit record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ops.bootstrap import System
from tests.faults.canaries import columns_holding, planted_text_found
from tests.faults.processes import SMALL_POOL, Fleet, sequester_env
from tests.faults.workload import (
    DIRECTOR,
    HR,
    Attempt,
    Burst,
    Tokens,
    account,
    audited_once_each,
    hire_officers,
    race,
    set_up_charts,
    wait_for_read_models,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
WRITERS, WRITES_EACH = 8, 20


def start(fleet: Fleet) -> tuple[str, str]:
    a, b = fleet.api("api-a"), fleet.api("api-b")
    worker = fleet.worker()
    bases = fleet.ready(a).base, fleet.ready(b).base
    assert worker.alive(), worker.tail()
    return bases


def races(bases: list[str], tokens: Tokens, closing: str) -> tuple[list[Attempt], list[Attempt]]:
    """Six identical hires of one staff id, and six closes of one chart, at once."""
    hires = race(bases, 6, "POST", "/staff", tokens(HR, "hr"), {
        "staff_id": "C-RACE", "display_name": "C-RACE", "job_title": "clinician",
        "roles": ["clinician"], "hired_on": "2023-05-01"})
    closes = race(bases, 6, "POST", f"/charts/{closing}/close", tokens(DIRECTOR, "director"),
                  {"closed_on": str(datetime.now(UTC).date())})
    return hires, closes


def check_races(system: System, hires: list[Attempt], closes: list[Attempt], closing: str) -> None:
    """One hire and one close win; each loser stored nothing but its own audit record."""
    assert sorted(h.status for h in hires) == [201] + [409] * 5, [h.body for h in hires]
    assert system.staff.get("C-RACE").version == 1
    close_statuses = [c.status for c in closes]  # a late loser finds it closed: 422
    assert close_statuses.count(200) == 1 and set(close_statuses) <= {200, 409, 422}
    assert len(system.charts.get(closing).closures) == 1
    for attempt, entry in zip(hires + closes, audited_once_each(system, hires + closes)):
        expected = "committed" if attempt.acknowledged else str(attempt.status)
        assert entry["outcome"] == expected, (attempt, entry)


def test_two_apis_and_a_worker_store_every_acknowledged_write_once(
    shared_db: tuple[str, System], fleet_for, key_dir: Path  # type: ignore[no-untyped-def]
) -> None:
    url, system = shared_db
    fleet = fleet_for(sequester_env(url, key_dir, projections_in_process="false",
                                    postgres_pool_size=SMALL_POOL))
    bases = start(fleet)
    hire_officers(system)
    tokens = Tokens(key_dir)
    charts = set_up_charts(bases[0], tokens, 5)
    hot, spread, closing = charts[0], charts[1:4], charts[4]
    burst = Burst(tokens)
    for i in range(WRITERS):  # half on one chart, half across three; both APIs
        burst.start(bases[i % 2], [hot] if i < WRITERS // 2 else spread, limit=WRITES_EACH)
    writes = burst.join(stop=False)
    hires, closes = races(list(bases), tokens, closing)

    wait_for_read_models(system)
    counts, problems = account("two_apis_one_worker", system, charts, writes,
                               hire_race=sorted(str(h.status) for h in hires),
                               close_race=sorted(str(c.status) for c in closes))
    counts.publish()
    assert problems == []
    assert (counts.lost, counts.duplicated) == (0, 0)
    assert counts.acknowledged == counts.found and counts.extra["no_answer"] == 0
    assert set(counts.extra["statuses"]) <= {"201", "409"}  # 409: the hot chart's retries ran out
    check_races(system, hires, closes, closing)
    verified = fleet.audit_verify()
    assert verified.returncode == 0, verified.stderr
    for process in fleet.processes:
        assert process.alive(), process.tail()
    assert planted_text_found(system, fleet, writes) == []
    assert columns_holding(system, [hot]) != []  # the search finds what is in plain
