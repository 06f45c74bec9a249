"""Exactly-once across crashes, with real processes: a worker is SIGKILLed at random
moments mid-run and restarted; in the end the read models equal a rebuild from zero and
every event is counted once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ops.bootstrap import System
from projections.audit import compare
from projections.runner import ProjectionRunner
from tests.projection_data import SlowTally, bulk_charts, crash_models

BATCH = 40
ROOT = Path(__file__).resolve().parents[2]


def spawn(backend: str, key_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.projection_worker", backend, str(key_dir), str(BATCH)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip


def slowest(runner: ProjectionRunner) -> int:
    return min(runner.positions().values())


def kill_after_progress(
    child: subprocess.Popen[bytes], runner: ProjectionRunner, rng: random.Random
) -> bool:
    """Wait until the child has committed a batch, then SIGKILL it a random moment later.
    True if it was still running (a real mid-run kill)."""
    start, deadline = slowest(runner), time.monotonic() + 15
    while slowest(runner) == start and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.25))
    running = child.poll() is None
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    return running


def test_sigkilled_workers_lose_and_double_nothing(
    system: System, backend: str, key_dir: Path, tmp_path: Path
) -> None:
    written = bulk_charts(system, 8, 250)
    runner = ProjectionRunner(system, crash_models(system), batch_size=BATCH)
    seed = random.randrange(1 << 30)
    rng, log = random.Random(seed), tmp_path / "worker.log"
    kills = sum(kill_after_progress(spawn(backend, key_dir, log), runner, rng) for _ in range(4))
    assert kills >= 2, f"the worker finished before it could be killed (seed {seed})"
    final = spawn(backend, key_dir, log)
    assert final.wait(timeout=60) == 0, log.read_text()[-2000:]
    assert set(runner.positions().values()) == {written.position}
    tally = next(p for p in runner.projections if isinstance(p, SlowTally))
    with runner.db.read() as tx:
        counted = sum(r["events"] for r in tx.rows(tally.table))
    assert counted == written.entries + 2 * len(written.pseudonyms)  # Enrolled + Opened
    tally.pause = 0.0  # the rebuild runs here, with nobody to kill it
    scratch = runner.rebuild()
    assert compare(runner, scratch) == [], f"seed {seed}"
