"""Stop PostgreSQL under load (a crash, `-m immediate`, then a clean `-m fast`) and start
it again, on a private cluster. During the outage every request is answered, within
the client's bound, with 503 and the stable body; /readyz says not ready; afterwards
the same API process recovers by itself and every acknowledged write is there."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ops.bootstrap import build
from ops.settings import Settings
from tests.faults.canaries import planted_text_found
from tests.faults.processes import PrivatePostgres, sequester_env
from tests.faults.workload import (
    Attempt,
    Burst,
    Tokens,
    account,
    hire_officers,
    send,
    set_up_charts,
    wait_for_read_models,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
BOUND = 10.0  # seconds a client waits for any answer: longer is a hang
OUTAGE = 5.0
WRITERS = 3


def until_ready(base: str, timeout: float = 60.0) -> float:
    """Seconds until /readyz says ready again."""
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=BOUND) as http:
        while time.monotonic() - started < timeout:
            if send(http, base, "GET", "/readyz", {}).status == 200:
                return time.monotonic() - started
            time.sleep(0.2)
    pytest.fail(f"the API did not recover within {timeout} s of PostgreSQL's restart")


def readiness(base: str) -> Attempt:
    with httpx.Client(base_url=base, timeout=BOUND) as http:
        return send(http, base, "GET", "/readyz", {})


@dataclass
class Outage:
    mode: str
    down: float  # monotonic: PostgreSQL had stopped
    up: float  # monotonic: PostgreSQL was being started again
    probe: Attempt  # /readyz while down
    recovered_after_s: float

    def spans(self, a: Attempt) -> bool:
        """Sent and answered while the database was down."""
        return self.down <= a.sent_at and a.sent_at + a.elapsed <= self.up


def outage(cluster: PrivatePostgres, base: str, mode: str) -> Outage:
    cluster.stop(mode)
    down = time.monotonic()
    probe = readiness(base)
    time.sleep(max(0.0, down + OUTAGE - time.monotonic()))
    up = time.monotonic()
    cluster.start()
    return Outage(mode, down, up, probe, round(until_ready(base), 2))


def check_answers(answered: list[Attempt], outages: list[Outage]) -> None:
    """Every request answered within the bound: 200/201, or 503 with the stable body;
    nothing succeeded while the database was down; /readyz said so."""
    hangs = [(a.request_id, a.error) for a in answered if a.status is None]
    assert hangs == [], f"requests without an answer within {BOUND} s: {hangs[:5]}"
    odd = [(a.status, a.body) for a in answered if a.status not in (200, 201, 503)]
    assert odd == [], "during and after an outage only 200, 201 or 503"
    assert {(a.body.get("error"), tuple(sorted(a.body))) for a in answered if a.status == 503} \
        == {("Unavailable", ("detail", "error"))}
    for o in outages:
        assert (o.probe.status, o.probe.body.get("status")) == (503, "unavailable"), o
        during = [a.status for a in answered if o.spans(a)]
        assert set(during) <= {503}, (o.mode, during)
        assert any(a.status == 503 and a.sent_at >= o.down for a in answered), o.mode


def test_postgres_outage_is_503_then_recovers_by_itself(
    private_postgres: PrivatePostgres, fleet_for, key_dir: Path  # type: ignore[no-untyped-def]
) -> None:
    url = private_postgres.url("fault")
    settings = Settings(database_url=url, key_dir=key_dir)
    system = build(settings)  # tables first, and the officers who set up the charts
    hire_officers(system)
    system.close()
    fleet = fleet_for(sequester_env(url, key_dir))  # projections run inside the API
    api = fleet.ready(fleet.api("api"))
    tokens = Tokens(key_dir)
    charts = set_up_charts(api.base, tokens, 2)

    burst = Burst(tokens, timeout=BOUND)
    for _ in range(WRITERS):
        burst.start(api.base, charts)
    burst.start_reader(api.base, charts)
    outages: list[Outage] = []
    for mode in ("immediate", "fast"):
        time.sleep(1.0)
        outages.append(outage(private_postgres, api.base, mode))
    time.sleep(1.0)  # load after the last recovery
    writes = burst.join()
    answered = writes + burst.reads

    assert api.alive(), api.tail()  # recovered without a restart
    check_answers(answered, outages)
    assert any(a.acknowledged and a.sent_at > outages[-1].up for a in writes)

    system = build(settings)
    try:
        wait_for_read_models(system)
        counts, problems = account(
            "postgres_outage", system, charts, writes,
            outages=[{"mode": o.mode, "recovered_after_s": o.recovered_after_s}
                     for o in outages],
            reads=len(burst.reads), answered_503=sum(a.status == 503 for a in answered),
            slowest_answer_s=round(max(a.elapsed for a in answered), 2))
        refused_reads = [a for a in burst.reads if a.status != 200]  # a 200 carries the notes
        leaks = planted_text_found(system, fleet, writes + refused_reads)
    finally:
        system.close()
    counts.publish()
    assert problems == []
    assert (counts.lost, counts.duplicated) == (0, 0)
    assert counts.acknowledged == counts.found
    verified = fleet.audit_verify()
    assert verified.returncode == 0, verified.stderr
    assert leaks == []
