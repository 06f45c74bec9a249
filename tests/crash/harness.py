"""Parent side of the acknowledged-write crash harness: the fork server, the kills, and
the checker that reads the database back after every kill.

The checker trusts nothing the writer says except its acknowledgements. After each kill
it reads the new part of the log (decrypting every event), and checks over the WHOLE
log so far: every acknowledged write is there exactly once and at or before the position
it was acknowledged with; every chart event has exactly one audit record and every audit
record its chart event (nothing half there); each trial's chart loads and lists exactly
the entries the log holds for it; the Merkle ledger recomputes from the stored rows and
matches every checkpoint signed after earlier trials.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from domain.audit.trail import AuditRecord
from domain.charts.aggregate import Chart, chart_uuid
from ops.bootstrap import System, checkpoint_signer
from ops.ledger_verify import verify
from projections.base import event_class, topics_of
from tests.crash.writer import PRINCIPAL, application_name

ROOT = Path(__file__).resolve().parents[2]
OPENED, ENTRY = event_class(Chart, "Opened"), event_class(Chart, "EntryRecorded")
RECORDED = event_class(AuditRecord, "Recorded")
TOPICS = frozenset(topics_of(OPENED, ENTRY, RECORDED))


@dataclass
class TrialLog:
    """What one killed writer said: keys it tried, keys it acknowledged (and where)."""

    pid: int = 0
    attempted: list[str] = field(default_factory=list)
    acked: dict[str, int | None] = field(default_factory=dict)  # None: "?" (the control)

    @classmethod
    def parse(cls, pid: int, text: str) -> TrialLog:
        log = cls(pid)
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                continue  # a line cut short by the kill was never acknowledged
            kind, key, *rest = line.split()
            if kind == "try":
                log.attempted.append(key)
            elif kind == "ack":
                log.acked[key] = None if rest == ["?"] else int(rest[0])
        return log

    @property
    def pseudonym(self) -> str | None:
        opens = (k.removeprefix("open:") for k in self.attempted if k.startswith("open:"))
        return next(opens, None)


class ForkServer:
    """`python -m tests.crash.writer serve`: forks a writer per trial."""

    def __init__(self, stderr: Path) -> None:
        self.stderr = stderr
        with stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.crash.writer", "serve"],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
            )  # fmt: skip

    def _ask(self, *words: object) -> list[str]:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(" ".join(map(str, words)) + "\n")
        stdin.flush()
        reply = stdout.readline().split()
        if not reply:
            raise RuntimeError(f"the fork server died: {self.log_tail()}")
        return reply

    def start(self, url: str, key_dir: Path, mode: str, out: Path) -> int:
        return int(self._ask("run", url, key_dir, mode, out)[1])

    def reap(self, pid: int) -> int:
        """The signal that ended the writer (negative: it exited by itself, with -code)."""
        return int(self._ask("reap", pid)[2])

    def log_tail(self) -> str:
        return self.stderr.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


def wait_for_ack(out: Path, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and "ack " in out.read_text():
            return True
        time.sleep(0.002)
    return False


def run_trial(
    server: ForkServer, url: str, key_dir: Path, mode: str, out: Path, rng: random.Random,
    max_delay: float = 0.2,
) -> TrialLog:  # fmt: skip
    """Start a writer and SIGKILL it at a random moment: one trial in five anywhere from
    start-up on (the build, the chart's opening), the rest after its first acknowledged
    write."""
    pid = server.start(url, key_dir, mode, out)
    if rng.random() < 0.2:
        time.sleep(rng.uniform(0.0, 0.15))
    else:
        if not wait_for_ack(out):
            os.kill(pid, signal.SIGKILL)
            server.reap(pid)
            raise AssertionError(f"the writer acknowledged nothing: {server.log_tail()}")
        time.sleep(rng.uniform(0.0, max_delay))
    os.kill(pid, signal.SIGKILL)
    ended_by = server.reap(pid)
    assert ended_by == signal.SIGKILL, f"the writer ended by itself: {server.log_tail()}"
    return TrialLog.parse(pid, out.read_text() if out.exists() else "")  # "": killed early


@dataclass
class Counts:
    backend: str
    mode: str
    seed: int
    trials: int = 0
    attempted: int = 0
    acknowledged: int = 0
    found: int = 0
    lost: int = 0
    duplicated: int = 0
    half_written: int = 0
    misplaced: int = 0
    committed_unacknowledged: int = 0  # killed after commit, before the ack: allowed
    killed_mid_write: int = 0  # the last line was a "try": the kill landed in a write
    sessions_outlived_writer: int = 0  # PostgreSQL sessions still there after the kill
    ledger_rows: int = 0
    problems: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = self.problems[:10]
        return data


class Checker:
    """Reads the log back incrementally and checks it after every trial."""

    def __init__(self, system: System, counts: Counts) -> None:
        self.system, self.counts = system, counts
        self.signer = checkpoint_signer(system.settings)
        self.seen = 0
        self.events: Counter[str] = Counter()
        self.audits: Counter[str] = Counter()
        self.at: dict[str, int] = {}
        self.entries_of: dict[UUID, set[str]] = defaultdict(set)

    def scan(self) -> None:
        recorder, mapper = self.system.infrastructure.recorder, self.system.infrastructure.mapper
        while page := recorder.select_notifications(start=self.seen + 1, limit=1000):
            for n in page:
                if n.topic in TOPICS:
                    self._count(n.id, mapper.to_domain_event(n))
            self.seen = page[-1].id

    def _count(self, position: int, event: Any) -> None:
        if isinstance(event, RECORDED):
            if event.entry["principal"] == PRINCIPAL:
                self.audits[event.entry["target"]] += 1
            return
        if isinstance(event, OPENED):
            key = f"open:{event.pseudonym}"
        else:
            key = f"entry:{event.entry_id}"
            self.entries_of[event.originator_id].add(key)
        self.events[key] += 1
        self.at.setdefault(key, position)

    def settle(self, log: TrialLog, timeout: float = 30.0) -> None:
        """Wait for the dead writer's PostgreSQL sessions to end: a COMMIT the server
        received just before the kill may still land, and only then is the outcome
        final (a killed SQLite writer's outcome is final at once)."""
        if not self.system.settings.is_postgres:
            return
        datastore = self.system.infrastructure.recorder.datastore  # type: ignore[attr-defined]
        deadline, waited = time.monotonic() + timeout, False
        while time.monotonic() < deadline:
            with datastore.transaction(commit=False) as c:
                c.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = %s",
                          (application_name(log.pid),))  # fmt: skip
                if c.fetchone()["n"] == 0:
                    self.counts.sessions_outlived_writer += waited
                    return
            waited = True
            time.sleep(0.005)
        raise AssertionError(f"the killed writer's sessions outlived it by {timeout} s")

    def check(self, log: TrialLog) -> None:
        self.settle(log)
        self.scan()
        c = self.counts
        c.trials += 1
        c.attempted += len(log.attempted)
        c.acknowledged += len(log.acked)
        c.killed_mid_write += bool(log.attempted) and log.attempted[-1] not in log.acked
        for key, position in log.acked.items():
            found = self.events[key]
            c.found += found >= 1
            if found == 0:
                c.lost += 1
                c.problems.append(f"acknowledged write {key} is not in the log")
            elif position is not None and self.at[key] > position:
                c.misplaced += 1
                c.problems.append(f"{key} stored at {self.at[key]}, acknowledged at {position}")
        c.committed_unacknowledged += sum(
            1 for k in log.attempted if k not in log.acked and self.events[k]
        )
        self._check_whole_log()
        self._check_chart(log)
        self._check_ledger()

    def _check_whole_log(self) -> None:
        c = self.counts
        keys = self.events.keys() | self.audits.keys()
        doubled = sorted(k for k in keys if self.events[k] > 1 or self.audits[k] > 1)
        half = sorted(k for k in keys if self.events[k] != self.audits[k])
        if len(doubled) > c.duplicated:
            c.problems.append(f"stored more than once: {doubled[:3]}")
        if len(half) > c.half_written:
            c.problems.append(f"a chart event without its audit record, or back: {half[:3]}")
        c.duplicated, c.half_written = len(doubled), len(half)

    def _check_chart(self, log: TrialLog) -> None:
        pseudonym = log.pseudonym
        if pseudonym is None or not self.events[f"open:{pseudonym}"]:
            return  # killed before the chart's opening committed
        chart = self.system.charts.get(pseudonym)
        listed = {f"entry:{e.entry_id}" for e in chart.entries}
        if listed != self.entries_of[chart_uuid(pseudonym)]:
            self.counts.problems.append(f"chart {pseudonym} does not list what the log holds")

    def _check_ledger(self) -> None:
        ledger = self.system.ledger
        assert ledger is not None
        report = verify(ledger, [self.signer.verifier_key()])
        if not report.ok:
            self.counts.problems.append(f"ledger: {report.problems[0]}")
        self.counts.ledger_rows = report.size
        ledger.checkpoint(self.signer)


def publish(counts: Counts, out: IO[str] | None = None) -> None:
    """Print the counts; append them as a JSON line to $SEQUESTER_FAULT_REPORT if set."""
    line = json.dumps({"fault": "writer_sigkill", **counts.report()}, sort_keys=True)
    print(f"\nfault report: {line}", file=out or sys.stdout)
    path = os.environ.get("SEQUESTER_FAULT_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
