"""SIGKILL an API process in the middle of a burst of writes, at random moments, while a
second API keeps serving (and projecting): every write acknowledged before the kill is
stored exactly once, and none that was cut off is half there (an event without its
audit record or the reverse: both commit in one transaction). The seed is reported."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from ops.bootstrap import System
from tests.faults.canaries import planted_text_found
from tests.faults.processes import SMALL_POOL, Fleet, Process, sequester_env
from tests.faults.workload import (
    Attempt,
    Burst,
    Tokens,
    account,
    hire_officers,
    set_up_charts,
    wait_for_read_models,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROUNDS = 5
VICTIM_CLIENTS, SURVIVOR_CLIENTS = 4, 2


def kill_mid_burst(victim: Process, burst: Burst, rng: random.Random) -> bool:
    """Once the victim has acknowledged a write, SIGKILL it a random moment later.
    True if it was still serving (a real mid-burst kill)."""
    deadline = time.monotonic() + 30
    while burst.acknowledged_by(victim.base) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.6))
    serving = victim.alive()
    victim.kill()
    return serving


def run_round(
    fleet: Fleet, victim: Process, survivor: Process, charts: list[str], tokens: Tokens,
    rng: random.Random, last: bool,
) -> tuple[list[Attempt], Process | None, bool]:
    """One burst through both APIs, the victim killed in it; its successor warms up
    meanwhile (none after the last round)."""
    successor = None if last else fleet.api(f"api-victim-{len(fleet.processes)}")  # warms up
    burst = Burst(tokens)
    for _ in range(VICTIM_CLIENTS):
        burst.start(victim.base, charts, until_no_answer=True)
    for _ in range(SURVIVOR_CLIENTS):
        burst.start(survivor.base, charts)
    killed = kill_mid_burst(victim, burst, rng)
    time.sleep(0.3)  # the survivor keeps writing after the kill
    return burst.join(), successor, killed


def test_sigkilled_api_loses_nothing_acknowledged_and_half_writes_nothing(
    shared_db: tuple[str, System], fleet_for, key_dir: Path  # type: ignore[no-untyped-def]
) -> None:
    url, system = shared_db
    fleet = fleet_for(sequester_env(url, key_dir, projections_in_process="false",
                                    postgres_pool_size=SMALL_POOL))
    # the survivor also runs the projections (the victims must not take them down)
    survivor = fleet.api("api-survivor", projections_in_process="true")
    victim = fleet.api("api-victim-1")
    fleet.ready(survivor)
    fleet.ready(victim)
    hire_officers(system)
    tokens = Tokens(key_dir)
    charts = set_up_charts(survivor.base, tokens, 3)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)

    attempts: list[Attempt] = []
    kills = 0
    for round_ in range(ROUNDS):
        done, successor, killed = run_round(fleet, victim, survivor, charts, tokens, rng,
                                            last=round_ == ROUNDS - 1)
        attempts += done
        kills += killed
        if successor is not None:
            victim = fleet.ready(successor)

    wait_for_read_models(system)
    counts, problems = account("sigkill_api", system, charts, attempts, seed=seed, kills=kills)
    counts.publish()
    assert kills == ROUNDS, f"a victim died before its kill (seed {seed})"
    assert problems == [], f"seed {seed}"
    assert (counts.lost, counts.duplicated) == (0, 0)
    assert counts.acknowledged == counts.found
    assert counts.extra["cut_off_in_flight"] >= 1, f"no write was cut off (seed {seed})"
    assert survivor.alive(), survivor.tail()
    verified = fleet.audit_verify()
    assert verified.returncode == 0, verified.stderr
    assert planted_text_found(system, fleet, attempts) == []
