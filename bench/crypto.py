"""`sequester bench crypto`: append and replay 100,000 events on SQLite and PostgreSQL,
with no cipher, the library's AESCipher, and sequester's envelope encryption.

Every configuration writes the same aggregates through the same application code and
recorder; only the mapper differs. Replay runs in a fresh process state (a new
keyring with a cold cache) and reads every aggregate back through the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.cryptography import AESCipher
from eventsourcing.domain import event
from eventsourcing.persistence import Mapper
from eventsourcing.utils import Environment
from psycopg import sql

from domain.base import ContextApplication, Infrastructure, ProtectedAggregate
from ops.bootstrap import System, build, transcoder
from ops.keys.kek import FileKeySource
from ops.settings import Settings

POSTGRES_URL = os.environ.get(
    "SEQUESTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CONFIGS = ("no_cipher", "aes_cipher", "ours")


class Note(ProtectedAggregate):
    """About 200 bytes of state per event, like a small domain event."""

    @event("Started")
    def __init__(self, owner: str, text: str) -> None:
        self.owner, self.text, self.count = owner, text, 0

    @event("Updated")
    def update(self, text: str, count: int) -> None:
        self.text, self.count = text, count


class BenchApplication(ContextApplication):
    name = "bench"


def mapper_for(config: str, system: System, cipher_key: str) -> Mapper[uuid.UUID]:
    if config == "ours":
        return system.infrastructure.mapper
    cipher = None
    if config == "aes_cipher":
        cipher = AESCipher(Environment(env={"CIPHER_KEY": cipher_key}))
    return Mapper(transcoder=transcoder(), cipher=cipher)


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{POSTGRES_URL}?schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def application(
    config: str, settings: Settings, cipher_key: str
) -> tuple[System, BenchApplication]:
    system = build(settings)
    infra = system.infrastructure
    mapper = mapper_for(config, system, cipher_key)
    app = BenchApplication(
        Infrastructure(infra.factory, infra.recorder, mapper, infra.env, infra.unit_of_work)
    )
    return system, app


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_config(config: str, settings: Settings, aggregates: int, per: int) -> dict[str, float]:
    cipher_key = AESCipher.create_key(32)
    system, app = application(config, settings, cipher_key)
    text = "x" * 120
    ids: list[uuid.UUID] = []

    def append() -> None:
        for i in range(aggregates):
            note = Note(owner=f"owner-{i}", text=text)
            for n in range(1, per):
                note.update(text, n)
            app.commit(note)
            ids.append(note.id)

    append_s = timed(append)
    system.close()
    system, app = application(config, settings, cipher_key)  # cold caches: a fresh process's view

    def replay() -> None:
        for aggregate_id in ids:
            app.repository.get(aggregate_id)

    replay_s = timed(replay)
    system.close()
    events = aggregates * per
    return {"append_s": append_s, "replay_s": replay_s, "events": events}


def run_backend(backend: str, aggregates: int, per: int, key_dir: Path, workdir: Path) -> dict[str, Any]:
    results = {}
    for config in CONFIGS:
        with database(backend, workdir) as url:
            settings = Settings(database_url=url, key_dir=key_dir)
            results[config] = run_config(config, settings, aggregates, per)
    ours, lib = results["ours"], results["aes_cipher"]
    return {
        "append_ratio": round(ours["append_s"] / lib["append_s"], 3),
        "replay_ratio": round(ours["replay_s"] / lib["replay_s"], 3),
        "events_per_s": {
            config: {
                "append": round(r["events"] / r["append_s"]),
                "replay": round(r["events"] / r["replay_s"]),
            }
            for config, r in results.items()
        },
    }


def main(args: argparse.Namespace) -> int:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sequester-bench-") as tmp:
        workdir = Path(tmp)
        source = FileKeySource(workdir / "keys")
        for name in ("events", "director", "medical"):
            source.create(name, 1, development=True)
        for backend in backends:
            report[backend] = run_backend(
                backend, args.aggregates, args.events_per_aggregate, workdir / "keys", workdir
            )
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    if args.json:
        print(json.dumps(report))
    else:
        for backend in backends:
            r = report[backend]
            print(f"{backend}: append ratio {r['append_ratio']}, replay ratio {r['replay_ratio']}")
            for config, rates in r["events_per_s"].items():
                print(f"  {config:10s} append {rates['append']:>8} ev/s  replay {rates['replay']:>8} ev/s")
    return 0
