"""The composition root: builds the keyring, the shared infrastructure and every
bounded context's application from the settings. Nothing is built at import time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    InfrastructureFactory,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.utils import Environment
from psycopg import sql

from domain.access.application import AccessApplication
from domain.access.facts import ChartAccess
from domain.accommodations.application import AccommodationsApplication
from domain.audit.application import AuditTrail
from domain.audit.trail import AUDIT_SUBJECT
from domain.base import KEK_NAMES, Infrastructure
from domain.charts.application import ChartsApplication
from domain.dual_relationships import DualRelationshipPolicy, DualRelationshipsApplication
from domain.errors import DataShredded, InvalidInput, Unavailable
from domain.staff.application import StaffApplication
from domain.staff.careers import StaffCareerApplication
from domain.subjects.application import SubjectsApplication
from ops import durability
from ops.checkpoints import CheckpointSigner
from ops.cipher import EnvelopeMapper
from ops.keys.datakeys import DataKeyStore, InMemoryDataKeyStore, SQLDataKeyStore
from ops.keys.kek import EnvKeySource, FileKeySource, KeyMaterialSource, load_keks
from ops.keys.keyring import Keyring
from ops.keys.link import LINK_KEY_SUBJECT, LinkHasher
from ops.keys.signing import (
    ENV_VAR as SIGNING_KEY_VAR,
)
from ops.keys.signing import (
    FILE_NAME as SIGNING_KEY_FILE,
)
from ops.keys.signing import (
    check_origin,
    create_signing_key_file,
    load_signer,
)
from ops.keys.tokens import create_token_keys
from ops.ledger import Ledger
from ops.settings import Settings
from ops.sqltext import Dialect, serialize_ddl
from ops.storage import RECORDER_TOPICS, MemoryRecorder, PostgresRecorder
from projections.catalog import read_models
from projections.runner import ProjectionRunner
from projections.sealing import KeyringSealer

log = structlog.get_logger("sequester.bootstrap")


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def transcoder() -> JSONTranscoder:
    t = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        t.register(transcoding)
    return t


def key_source(settings: Settings) -> KeyMaterialSource:
    if settings.key_source == "env":
        return EnvKeySource(os.environ)
    return FileKeySource(settings.key_dir)


def ensure_postgres_schema(persistence_env: dict[str, str]) -> None:
    schema = persistence_env["POSTGRES_SCHEMA"]
    if schema == "public":
        return
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=persistence_env["POSTGRES_DBNAME"],
        host=persistence_env["POSTGRES_HOST"],
        port=persistence_env["POSTGRES_PORT"],
        user=persistence_env["POSTGRES_USER"],
        password=persistence_env["POSTGRES_PASSWORD"] or None,
    )
    with psycopg.connect(conninfo) as conn:  # one transaction, so the DDL lock holds
        serialize_ddl(conn.cursor(), postgres=True, schema=schema)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def owner_only(sqlite_path: str) -> None:
    """The SQLite file (and its -wal and -shm files, which SQLite creates with the file's
    own mode) readable by the service's user alone: created 0600, tightened if looser."""
    if sqlite_path == ":memory:" or "mode=memory" in sqlite_path:
        return
    path = Path(sqlite_path)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists() and each.stat().st_mode & 0o077:
            each.chmod(0o600)


def build_factory(settings: Settings) -> tuple[InfrastructureFactory[Any], dict[str, str]]:
    env = settings.persistence_env()
    topic = RECORDER_TOPICS.get(env["PERSISTENCE_MODULE"])
    if topic:
        env["APPLICATION_RECORDER_TOPIC"] = topic
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        ensure_postgres_schema(env)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        owner_only(env["SQLITE_DBNAME"])
    factory = InfrastructureFactory.construct(Environment("sequester", env))
    return factory, env


def data_key_store(factory: InfrastructureFactory[Any], recorder: Any) -> DataKeyStore:
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:
        return InMemoryDataKeyStore()
    postgres = type(factory).__module__ == "eventsourcing.postgres"
    return SQLDataKeyStore(datastore, postgres=postgres, schema=getattr(datastore, "schema", ""))


@dataclass
class System:
    """Everything a process needs, built once."""

    settings: Settings
    keyring: Keyring
    infrastructure: Infrastructure
    staff: StaffApplication
    subjects: SubjectsApplication
    charts: ChartsApplication
    access: AccessApplication
    accommodations: AccommodationsApplication
    dual_relationships: DualRelationshipsApplication
    chart_access: ChartAccess
    audit: AuditTrail
    careers: StaffCareerApplication
    ledger: Ledger | None = None
    projections: ProjectionRunner | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.infrastructure.factory.close()

    def events(self, topics: tuple[str, ...]) -> Iterator[Any]:
        """Decoded events of the given topics, in log order, shredded ones skipped (the
        in-memory backend's stand-in for a read model)."""
        recorder, mapper = self.infrastructure.recorder, self.infrastructure.mapper
        position = 0
        while page := recorder.select_notifications(
            position, 500, topics=topics, inclusive_of_start=False
        ):
            for notification in page:
                try:
                    yield mapper.to_domain_event(notification)
                except DataShredded:
                    continue
            position = page[-1].id

    def projection_lag(self) -> int:
        """Events in the log not yet applied by the slowest read model."""
        if self.projections is None:
            return 0
        head = self.infrastructure.recorder.max_notification_id() or 0
        return head - min(self.projections.positions().values(), default=head)

    def wait_for(self, position: int | None) -> None:
        """Read-your-writes: wait (bounded) until the read models include `position`."""
        if position is None or self.projections is None:
            return
        head = self.infrastructure.recorder.max_notification_id() or 0
        if position > head:
            raise InvalidInput(f"position {position} is beyond the end of the log ({head})")
        if not self.projections.wait(position, timeout=self.settings.read_wait_seconds):
            raise Unavailable(
                f"the read models have not caught up with position {position} yet; retry"
            )


def build_keyring(settings: Settings, store: DataKeyStore) -> Keyring:
    keks = load_keks(key_source(settings), production=settings.production)
    return Keyring(
        keks,
        store,
        cache_size=settings.data_key_cache_size,
        cache_ttl_seconds=settings.data_key_cache_ttl_seconds,
    )


def build(settings: Settings, *, verify_keys: bool = True) -> System:
    """Build the object graph; refuses to start on missing, wrong or development keys
    in production, with a message naming the key."""
    factory, env = build_factory(settings)
    memory = env["PERSISTENCE_MODULE"] == "eventsourcing.popo"
    recorder = MemoryRecorder() if memory else factory.application_recorder()
    if not memory:
        durability.check(recorder, postgres=isinstance(recorder, PostgresRecorder))
    ledger = None if memory else attach_ledger(recorder)
    keyring = build_keyring(settings, data_key_store(factory, recorder))
    if verify_keys:
        keyring.verify()
        check_checkpoint_key(settings)
    mapper = EnvelopeMapper(transcoder(), keyring)
    infrastructure = Infrastructure(
        factory=factory,
        recorder=recorder,
        mapper=mapper,
        env=env,
        unit_of_work=keyring.unit_of_work,
    )
    system = assemble(settings, keyring, infrastructure)
    system.ledger = ledger
    # an upgrade step, done once per database (the keys are known good)
    if verify_keys and (added := system.subjects.index_links()):
            log.warning("subjects.link_indexes_brought_up_to_date", added=added)
    if not memory:
        system.projections = projection_runner(system)
    return system


def projection_runner(system: System, prefix: str = "rm_") -> ProjectionRunner:
    """Every read model over the shared log, batched, in the same database."""
    sealer = KeyringSealer(system.keyring)
    models = read_models(sealer.seal, sealer.unseal, system.dual_relationships.policy)
    return ProjectionRunner(system, models, batch_size=1000, prefix=prefix,
                            reopen=partial(reopened_runner, system.settings, prefix))


def reopened_runner(settings: Settings, prefix: str) -> ProjectionRunner:
    """The runner again, built from scratch (a rebuild's child process: connections and
    keys are never shared across a fork). The parent has checked the keys already."""
    return projection_runner(build(settings, verify_keys=False), prefix)


def attach_ledger(recorder: Any) -> Ledger:
    """The Merkle leaf and checkpoint tables, written by the recorder with the events."""
    postgres = isinstance(recorder, PostgresRecorder)
    schema = recorder.datastore.schema if postgres else ""
    ledger = Ledger(recorder.datastore, Dialect(postgres=postgres, schema=schema),
                    recorder.events_table_name)
    recorder.ledger = ledger
    return ledger


def check_checkpoint_key(settings: Settings) -> None:
    """At start-up: a checkpoint signing key that is present must load, and production
    needs one (in development `serve` creates a missing one on first run)."""
    if settings.key_source == "env":
        present = SIGNING_KEY_VAR in os.environ
    else:
        present = (settings.key_dir / SIGNING_KEY_FILE).exists()
    if present or settings.production:
        checkpoint_signer(settings)


def checkpoint_signer(settings: Settings) -> CheckpointSigner:
    """The signing key; its name is the log's origin (a configured origin must match)."""
    signer = load_signer(
        settings.key_dir,
        os.environ,
        from_env=settings.key_source == "env",
        production=settings.production,
    )
    return check_origin(signer, settings.checkpoint_origin)


def assemble(settings: Settings, keyring: Keyring, infrastructure: Infrastructure) -> System:
    """One application per bounded context, all over the same infrastructure."""
    keyring.reserved_subjects.update({LINK_KEY_SUBJECT, AUDIT_SUBJECT})
    link_of = LinkHasher(keyring)
    staff = StaffApplication(infrastructure)
    subjects = SubjectsApplication(infrastructure, link_of)
    access = AccessApplication(infrastructure, break_glass_minutes=settings.break_glass_minutes)
    return System(
        settings=settings,
        keyring=keyring,
        infrastructure=infrastructure,
        staff=staff,
        subjects=subjects,
        charts=ChartsApplication(infrastructure),
        access=access,
        accommodations=AccommodationsApplication(infrastructure),
        dual_relationships=DualRelationshipsApplication(
            infrastructure,
            DualRelationshipPolicy(
                lookback_months=settings.dual_relationship_lookback_months,
                report_within_days=settings.dual_relationship_report_within_days,
            ),
        ),
        audit=AuditTrail(infrastructure),
        careers=StaffCareerApplication(infrastructure, staff),
        chart_access=ChartAccess(
            staff, subjects, access, link_of, settings.required_agreement_version
        ),
    )


def ensure_development_keys(settings: Settings) -> None:
    """Development only: create key files on first run (never in production)."""
    if settings.production or settings.key_source != "files":
        return
    source = FileKeySource(settings.key_dir)
    existing = {m.name for m in source.load()}
    for name in KEK_NAMES:
        if name not in existing:
            source.create(name, 1, development=True)
    if not (settings.key_dir / "checkpoint.signing").exists():
        create_signing_key_file(settings.key_dir, settings.checkpoint_origin, development=True)
    if not (settings.key_dir / "token-signing.jwk").exists():
        create_token_keys(settings.key_dir)
