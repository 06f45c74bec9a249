"""An acknowledged write survives the writer being SIGKILLed at any moment.

Each trial forks a writer process (tests/crash/writer.py) that appends audited chart
entries to the database and prints one line per write it acknowledges; the test kills
it at a random moment and `Checker` (tests/crash/harness.py) reads the database back.
Trials share one database, each building on what the earlier ones left (torn WAL,
rolled-back PostgreSQL transactions, orphaned data keys...). Default 50 trials per
backend; `--crash-trials N` or $SEQUESTER_CRASH_TRIALS for more. Counts are printed
and appended to $SEQUESTER_FAULT_REPORT as JSON lines.

What a process kill can and cannot show: the killed process's writes that reached the
kernel survive it even with `synchronous=OFF`, so these trials prove the ORDER of
commit and acknowledgement and the atomicity of each commit (events, audit record,
data key and Merkle leaf together), not fsync durability — that is what
ops/durability.py refuses to start without (tests/integration/test_durability.py).
The negative control proves the checker can see a loss: a writer that acknowledges
before it commits (a real ordering bug) must be caught by the same checker code.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from ops.bootstrap import build
from tests.crash.harness import Checker, Counts, ForkServer, publish, run_trial

CONTROL_TRIALS = 30


def backend_name(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


@pytest.mark.slow
def test_every_acknowledged_write_is_stored_once_and_whole(
    backend: str, settings_for: Any, key_dir: Path, tmp_path: Path, fork_server: ForkServer,
    crash_trials: int,
) -> None:  # fmt: skip
    system = build(settings_for(backend, projections_in_process=False))
    seed = random.randrange(1 << 30)
    rng, counts = random.Random(seed), Counts(backend_name(backend), "commit-then-ack", seed)
    checker = Checker(system, counts)
    try:
        for trial in range(crash_trials):
            out = tmp_path / f"trial-{trial}.out"
            checker.check(run_trial(fork_server, backend, key_dir, "commit-then-ack", out, rng))
        reread = Checker(system, Counts(counts.backend, "reread", seed))
        reread.scan()  # the whole log from zero agrees with the trial-by-trial reading
        assert (reread.events, reread.audits) == (checker.events, checker.audits)
    finally:
        publish(counts)
        system.close()
    assert counts.problems == [], f"seed {seed}: {counts.problems[:5]}"
    assert (counts.lost, counts.duplicated, counts.half_written, counts.misplaced) == (0, 0, 0, 0)
    assert counts.found == counts.acknowledged > crash_trials
    if crash_trials >= 20:  # the kills did land inside writes, not only between them
        assert counts.killed_mid_write > 0, f"seed {seed}"


def test_negative_control_a_write_acknowledged_before_its_commit_is_reported_lost(
    backend: str, settings_for: Any, key_dir: Path, tmp_path: Path, fork_server: ForkServer
) -> None:
    """The writer prints `ack` and only then commits: a kill between the two loses an
    acknowledged write. Trials run until the checker reports one (at most 30; each kill
    lands in that window about half the time), and nothing else is reported wrong."""
    system = build(settings_for(backend, projections_in_process=False))
    seed = random.randrange(1 << 30)
    rng, counts = random.Random(seed), Counts(backend_name(backend), "ack-then-commit", seed)
    checker = Checker(system, counts)
    try:
        for trial in range(CONTROL_TRIALS):
            out = tmp_path / f"control-{trial}.out"
            log = run_trial(fork_server, backend, key_dir, "ack-then-commit", out, rng, 0.05)
            checker.check(log)
            if counts.lost:
                break
    finally:
        publish(counts)
        system.close()
    assert counts.lost > 0, f"seed {seed}: the checker missed every lost acknowledged write"
    assert all(p.startswith("acknowledged write") for p in counts.problems), counts.problems
    assert (counts.duplicated, counts.half_written) == (0, 0)
