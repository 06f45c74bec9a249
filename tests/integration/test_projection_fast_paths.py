"""The bulk paths of the projection runner give exactly what the per-event paths give,
on SQLite and PostgreSQL: the batch decoder (every event of a mixed log, shredded and
tampered ones included), the log reader, binary COPY inserts, batched sealing, and a
rebuild in large joint batches against a live runner that applied one event per
transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from domain.errors import DataShredded, TamperDetected
from domain.subjects.subject import subject_uuid
from ops.bootstrap import System
from ops.cipher import BatchDecoder
from ops.demo import load_demo
from projections.audit import compare
from projections.runner import ProjectionFailed, ProjectionRunner
from projections.sealing import KeyringSealer
from projections.tables import Column, Table
from tests.projection_data import Written, bulk_charts, clinical_history, models


def mixed_log(system: System) -> Written:
    """Every kind of event sequester stores: the demo agency (staff, subjects, identity
    records, grants, break-glass, dual relationships, accommodations under the medical
    key, audit records and director notes), a clinical history, and bulk charts."""
    load_demo(system)
    written = clinical_history(system)
    return bulk_charts(system, 3, 7, written)


def library_decode(system: System, stored: Any) -> Any:
    try:
        return system.infrastructure.mapper.to_domain_event(stored)
    except DataShredded:
        return None


def assert_same_events(fast: list[Any], slow: list[Any]) -> None:
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert type(a) is type(b)
        if b is not None:
            assert list(vars(a)) == list(vars(b))  # same fields, same order
            assert vars(a) == vars(b)
            assert [type(v) for v in vars(a).values()] == [type(v) for v in vars(b).values()]


def test_batch_decoder_equals_the_mapper_on_a_mixed_log(system: System) -> None:
    mixed_log(system)
    notifications = system.infrastructure.recorder.select_notifications(1, 100_000)
    topics = {n.topic for n in notifications}
    assert len(topics) > 25  # the log really is mixed
    decoder = BatchDecoder(system.infrastructure.mapper)  # type: ignore[arg-type]
    fallbacks: list[Any] = []
    decoder._slow = lambda stored: fallbacks.append(stored)  # type: ignore[method-assign]
    fast = decoder.decode(notifications)
    assert fallbacks == []  # every event took the fast path...
    assert_same_events(fast, [library_decode(system, n) for n in notifications])  # ...to the same


def test_shredded_events_decode_as_none_like_the_runner_skips_them(system: System) -> None:
    written = mixed_log(system)
    system.keyring.shred(subject_uuid(written.pseudonyms[0]), "retention period ended")
    notifications = system.infrastructure.recorder.select_notifications(1, 100_000)
    fast = system.infrastructure.mapper.to_domain_events(notifications)  # type: ignore[attr-defined]
    assert fast.count(None) > 0
    assert_same_events(fast, [library_decode(system, n) for n in notifications])


def test_a_tampered_event_raises_the_mappers_own_error(system: System) -> None:
    system.staff.hire("S-1", "Person One", "clinician", ["clinician"], date(2024, 1, 8))
    (n,) = system.infrastructure.recorder.select_notifications(1, 1)[:1]
    tampered = StoredEvent(n.originator_id, n.originator_version, n.topic,
                           n.state[:-1] + bytes([n.state[-1] ^ 1]))  # fmt: skip
    with pytest.raises(TamperDetected) as fast:
        system.infrastructure.mapper.to_domain_events([tampered])  # type: ignore[attr-defined]
    with pytest.raises(TamperDetected) as slow:
        system.infrastructure.mapper.to_domain_event(tampered)
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize(("start", "limit", "stop"), [(1, 1000, None), (5, 7, None), (3, 100, 9), (10**6, 10, None)])
def test_the_log_reader_reads_what_select_notifications_reads(
    system: System, start: int, limit: int, stop: int | None
) -> None:
    mixed_log(system)
    runner = ProjectionRunner(system, [])
    ours = runner.log.read(start, limit, stop)
    theirs = system.infrastructure.recorder.select_notifications(start, limit, stop=stop)
    assert [tuple(s) for s in ours] == [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in theirs
    ]
    assert all(type(s.originator_id) is UUID and type(s.state) is bytes for s in ours)


def test_a_rebuild_in_large_batches_equals_one_event_per_transaction(system: System) -> None:
    mixed_log(system)
    live = ProjectionRunner(system, models(system), batch_size=1)
    live.catch_up()
    scratch = live.rebuild("rm_big_", batch_size=100_000)
    assert compare(live, scratch) == []
    entries, index = (next(p for p in live.projections if p.name == name)
                      for name in ("chart_entries_v2", "chart_index"))  # fmt: skip
    for chart in index.charts(scratch.db):  # type: ignore[attr-defined]
        rebuilt = entries.entries(scratch.db, chart["pseudonym"])  # type: ignore[attr-defined]
        assert rebuilt == entries.entries(live.db, chart["pseudonym"])  # type: ignore[attr-defined]
        assert len(rebuilt) == chart["entry_count"]


THINGS = Table(
    "fast_things",
    (Column("id", "text", False), Column("on_day", "date"), Column("at", "timestamp"),
     Column("flag", "bool"), Column("blob", "blob"), Column("n", "int")),
    key="id",
)  # fmt: skip


def test_copy_inserts_store_what_inserts_store(system: System) -> None:
    """On PostgreSQL exact-typed rows go through binary COPY; rows with other values
    (a UUID, a naive time) through INSERT. Read back, both are the same values."""
    runner = ProjectionRunner(system, [])
    db = runner.db.with_prefix("rm_fast_")
    db.create([THINGS])
    at = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    exact = [{"id": f"e{i}", "on_day": date(2025, 1, i + 1), "at": at, "flag": bool(i % 2),
              "blob": bytes([i, 0]), "n": 2**40 + i} for i in range(5)]  # fmt: skip
    sparse = [{"id": "s0"}, {"id": "s1", "n": None, "blob": b""}]
    uuid_valued = [{"id": UUID(int=7), "at": at.astimezone(UTC), "n": -1}]  # encoded to str
    not_copyable = [{"id": 12345, "n": 1}]  # an int for a text column: INSERT converts it
    with db.transaction() as tx:
        for rows in (exact, sparse, uuid_valued, not_copyable):
            tx.insert(THINGS, rows)
    with db.read() as tx:
        back = {r["id"]: r for r in tx.rows(THINGS)}
    assert len(back) == 9
    for row in exact + sparse + uuid_valued + not_copyable:
        expected = {c: row.get(c) for c in THINGS.names} | {"id": str(row["id"])}
        if expected["at"] is not None:
            expected["at"] = expected["at"].astimezone(UTC)
        assert back[str(row["id"])] == expected
    db.drop([THINGS])


def test_seal_many_seals_as_seal_does(system: System) -> None:
    sealer = KeyringSealer(system.keyring)
    a, b = uuid4(), uuid4()
    sealer.seal(a, b"x", b"warm-up")  # a's key exists; b's is created on first use
    requests = [(a, b"first", b"aad-1"), (b, b"second", b"aad-2"), (a, b"", b"aad-3")]
    sealed = sealer.seal_many(requests)
    assert [sealer.unseal(s, aad) for s, (_, _, aad) in zip(sealed, requests, strict=True)] == [  # type: ignore[arg-type]
        b"first", b"second", b""
    ]
    assert len({s[17:29] for s in sealed if s}) == 3  # a fresh nonce each
    with pytest.raises(TamperDetected):
        sealer.unseal(sealed[0], b"aad-2")  # type: ignore[arg-type]
    system.keyring.shred(b, "retention period ended")
    assert [s is None for s in sealer.seal_many(requests)] == [False, True, False]


def test_a_failing_member_of_a_joint_batch_rolls_back_alone(system: System) -> None:
    """The joint transaction fails as a whole; the runner then applies each read model
    alone, so the others still commit (the contract of `run_once`)."""
    written = mixed_log(system)
    projections = models(system)
    broken = projections[0]
    broken.apply = lambda batch, tx: (_ for _ in ()).throw(RuntimeError("injected"))  # type: ignore[method-assign]
    runner = ProjectionRunner(system, projections, batch_size=100_000)
    with pytest.raises(ProjectionFailed) as failed:
        runner.run_once()
    assert set(failed.value.failures) == {broken.name}
    positions = runner.positions()
    assert positions.pop(broken.name) == 0
    assert set(positions.values()) == {written.position}
    with runner.db.read() as tx:
        assert tx.rows(broken.tables[0]) == []
