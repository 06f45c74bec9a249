"""Wrapped data keys, one per (KEK name, data subject), stored beside the events.

A row holds the data key wrapped by one version of its KEK. Rotation rewraps rows;
shredding drops the wrapped bytes but keeps the row, so the subject can never quietly
receive a new key and its old ciphertexts read as "shredded", not "missing".
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID, uuid5

from eventsourcing.persistence import IntegrityError
from psycopg import sql

from ops.sqltext import Dialect, serialize_ddl, values

DATA_KEY_NAMESPACE = UUID("6f1f3a52-1d0c-5b7e-9a47-0b2f9d7c4e11")


def data_key_id(kek: str, subject_id: UUID) -> UUID:
    """One data key per (KEK, subject), so its id follows from the scope: one primary
    key serves both look-ups, and a second key for a scope cannot be stored."""
    return uuid5(DATA_KEY_NAMESPACE, f"{kek}|{subject_id}")


@dataclass(frozen=True)
class DataKeyRecord:
    key_id: UUID
    kek: str
    kek_version: int
    subject_id: UUID
    wrapped: bytes | None  # None once shredded
    created_at: datetime
    shredded_at: datetime | None = None
    shred_reason: str | None = None


class DataKeyStore(ABC):
    @abstractmethod
    def get(self, key_id: UUID) -> DataKeyRecord | None: ...

    @abstractmethod
    def find(self, kek: str, subject_id: UUID) -> DataKeyRecord | None: ...

    @abstractmethod
    def insert(self, record: DataKeyRecord) -> DataKeyRecord:
        """Insert, or return the record another writer inserted first for the same scope."""

    def insert_with(self, cursor: Any, records: list[DataKeyRecord]) -> None:
        """Insert new keys with the caller's cursor (inside the events' transaction).
        A key another writer created first for the same scope fails the transaction."""
        for record in records:
            self.insert(record)

    @abstractmethod
    def for_kek(self, kek: str) -> list[DataKeyRecord]: ...

    @abstractmethod
    def live(self, limit: int) -> list[DataKeyRecord]:
        """Up to `limit` data keys that are not shredded (for warming a cache)."""

    @abstractmethod
    def rewrap(self, key_id: UUID, kek_version: int, wrapped: bytes) -> None: ...

    @abstractmethod
    def shred(self, subject_id: UUID, reason: str, at: datetime) -> list[UUID]:
        """Destroy every data key of the subject; return their ids."""

    @abstractmethod
    def counts(self) -> Counter[tuple[str, int]]:
        """How many live data keys each (KEK, version) wraps."""


class InMemoryDataKeyStore(DataKeyStore):
    """For unit tests with the in-memory (POPO) recorder."""

    def __init__(self) -> None:
        self._rows: dict[UUID, DataKeyRecord] = {}
        self._lock = threading.Lock()

    def get(self, key_id: UUID) -> DataKeyRecord | None:
        return self._rows.get(key_id)

    def find(self, kek: str, subject_id: UUID) -> DataKeyRecord | None:
        return next(
            (r for r in self._rows.values() if (r.kek, r.subject_id) == (kek, subject_id)), None
        )

    def insert_with(self, cursor: Any, records: list[DataKeyRecord]) -> None:
        """Like the SQL stores' unique index: a second key for a scope fails the save."""
        with self._lock:
            if any(self.find(r.kek, r.subject_id) for r in records):
                raise IntegrityError("a data key already exists for this data subject")
            for record in records:
                self._rows[record.key_id] = record

    def insert(self, record: DataKeyRecord) -> DataKeyRecord:
        with self._lock:
            existing = self.find(record.kek, record.subject_id)
            if existing:
                return existing
            self._rows[record.key_id] = record
            return record

    def for_kek(self, kek: str) -> list[DataKeyRecord]:
        return [r for r in self._rows.values() if r.kek == kek]

    def live(self, limit: int) -> list[DataKeyRecord]:
        return [r for r in self._rows.values() if r.wrapped is not None][:limit]

    def rewrap(self, key_id: UUID, kek_version: int, wrapped: bytes) -> None:
        self._rows[key_id] = replace(self._rows[key_id], kek_version=kek_version, wrapped=wrapped)

    def shred(self, subject_id: UUID, reason: str, at: datetime) -> list[UUID]:
        ids = [r.key_id for r in self._rows.values() if r.subject_id == subject_id]
        for key_id in ids:
            self._rows[key_id] = replace(
                self._rows[key_id], wrapped=None, shredded_at=at, shred_reason=reason
            )
        return ids

    def counts(self) -> Counter[tuple[str, int]]:
        return Counter((r.kek, r.kek_version) for r in self._rows.values() if r.wrapped)


class _Datastore(Protocol):
    def transaction(self, *, commit: bool) -> AbstractContextManager[Any]: ...


COLUMNS = "key_id, kek, kek_version, subject_id, wrapped, created_at, shredded_at, shred_reason"


class SQLDataKeyStore(DataKeyStore):
    """The data-key table in the application's own database (SQLite or PostgreSQL),
    reached through the eventsourcing datastore so it shares its connections."""

    def __init__(self, datastore: _Datastore, *, postgres: bool, schema: str = "") -> None:
        self.datastore = datastore
        self.postgres = postgres
        self.dialect = Dialect(postgres=postgres, schema=schema)
        self.table = self.dialect.table("sequester_data_keys")
        self._create_table()

    def _q(self, template: str) -> Any:
        """Compose a statement naming {table} and {cols}."""
        return self.dialect.q(template, table=self.table, cols=sql.SQL(COLUMNS))

    def _create_table(self) -> None:
        blob, ts, rowid = (
            ("bytea", "timestamptz", "") if self.postgres else ("blob", "text", " WITHOUT ROWID")
        )
        with self.datastore.transaction(commit=True) as c:
            serialize_ddl(c, postgres=self.postgres, schema=self.dialect.schema)
            c.execute(
                self._q(
                    "CREATE TABLE IF NOT EXISTS {table} (key_id text PRIMARY KEY, "
                    "kek text NOT NULL, kek_version integer NOT NULL, subject_id text NOT NULL, "
                    f"wrapped {blob}, created_at {ts} NOT NULL, shredded_at {ts}, "
                    f"shred_reason text){rowid}"
                )
            )

    @staticmethod
    def _record(row: Any) -> DataKeyRecord:
        cells = values(row)
        created, shredded = (
            v if v is None or isinstance(v, datetime) else datetime.fromisoformat(v)
            for v in cells[5:7]
        )
        assert created is not None, "created_at is NOT NULL"
        return DataKeyRecord(
            key_id=UUID(cells[0]),
            kek=cells[1],
            kek_version=int(cells[2]),
            subject_id=UUID(cells[3]),
            wrapped=bytes(cells[4]) if cells[4] is not None else None,
            created_at=created,
            shredded_at=shredded,
            shred_reason=cells[7],
        )

    def _select(self, where: str, params: tuple[Any, ...]) -> Iterator[DataKeyRecord]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._q("SELECT {cols} FROM {table} " + where), params)
            rows = c.fetchall()
        return (self._record(r) for r in rows)

    def get(self, key_id: UUID) -> DataKeyRecord | None:
        return next(self._select("WHERE key_id = %s", (str(key_id),)), None)

    def find(self, kek: str, subject_id: UUID) -> DataKeyRecord | None:
        return self.get(data_key_id(kek, subject_id))

    def insert(self, record: DataKeyRecord) -> DataKeyRecord:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self._q(
                    "INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL) "
                    "ON CONFLICT (key_id) DO NOTHING"
                ),
                self._params(record),
            )
        found = self.find(record.kek, record.subject_id)
        assert found is not None
        return found

    def insert_with(self, cursor: Any, records: list[DataKeyRecord]) -> None:
        statement = self._q("INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL)")
        for record in records:
            cursor.execute(statement, self._params(record))

    def _params(self, record: DataKeyRecord) -> tuple[Any, ...]:
        return (
            str(record.key_id),
            record.kek,
            record.kek_version,
            str(record.subject_id),
            record.wrapped,
            record.created_at if self.postgres else record.created_at.isoformat(),
        )

    def for_kek(self, kek: str) -> list[DataKeyRecord]:
        return list(self._select("WHERE kek = %s ORDER BY key_id", (kek,)))

    def live(self, limit: int) -> list[DataKeyRecord]:
        return list(self._select("WHERE wrapped IS NOT NULL LIMIT %s", (limit,)))

    def rewrap(self, key_id: UUID, kek_version: int, wrapped: bytes) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self._q("UPDATE {table} SET kek_version = %s, wrapped = %s WHERE key_id = %s"),
                (kek_version, wrapped, str(key_id)),
            )

    def shred(self, subject_id: UUID, reason: str, at: datetime) -> list[UUID]:
        ids = [r.key_id for r in self._select("WHERE subject_id = %s", (str(subject_id),))]
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self._q(
                    "UPDATE {table} SET wrapped = NULL, shredded_at = %s, shred_reason = %s "
                    "WHERE subject_id = %s"
                ),
                (at if self.postgres else at.isoformat(), reason, str(subject_id)),
            )
        return ids

    def counts(self) -> Counter[tuple[str, int]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self._q(
                    "SELECT kek, kek_version, COUNT(*) FROM {table} "
                    "WHERE wrapped IS NOT NULL GROUP BY kek, kek_version"
                )
            )
            rows = c.fetchall()
        return Counter({(v[0], int(v[1])): int(v[2]) for v in map(values, rows)})
