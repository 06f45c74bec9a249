"""Tamper evidence (DESIGN §3 item 3): every stored event, domain or audit, is a leaf
of an RFC 6962 Merkle tree in notification order, written in the event's own
transaction; checkpoints of the tree are signed (C2SP tlog-checkpoint) and kept.
Tiles, roots and proofs are read through `TileHashes` (`domain.audit.tiled`);
`ops.ledger_verify` recomputes everything from the stored ciphertexts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.audit.merkle import leaf_hash
from domain.audit.tiled import TiledTree, TileHashes
from domain.errors import InvalidInput, TamperDetected
from ops.checkpoints import Checkpoint, CheckpointSigner
from ops.sqltext import Dialect, serialize_ddl, values

LEAF_PREFIX = b"sequester-leaf-v1\x00"


def leaf_data(
    notification_id: int, originator_id: UUID | str, version: int, topic: str, state: bytes
) -> bytes:
    """The bytes a leaf commits to: the stored row, its position included."""
    return leaf_data_of_digest(
        notification_id, originator_id, version, topic, hashlib.sha256(state).digest()
    )


def leaf_data_of_digest(
    notification_id: int, originator_id: UUID | str, version: int, topic: str, state_sha256: bytes
) -> bytes:
    """`leaf_data` from the SHA-256 of the stored state (what the API serves); the
    layout is the README's "Leaf format"."""
    if isinstance(originator_id, UUID):
        oid = originator_id.bytes
    else:  # SQLite stores the id as hex text
        oid = bytes.fromhex(str(originator_id).replace("-", ""))
    topic_bytes = topic.encode()
    return b"".join(
        (
            LEAF_PREFIX,
            notification_id.to_bytes(8, "big"),
            oid,
            version.to_bytes(8, "big", signed=True),
            len(topic_bytes).to_bytes(4, "big"),
            topic_bytes,
            state_sha256,
        )
    )


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime


class Ledger:
    """The leaf and checkpoint tables, beside the events, on either engine."""

    def __init__(self, datastore: Any, dialect: Dialect, events_table: str) -> None:
        self.datastore, self.d = datastore, dialect
        self.leaves = dialect.table("sequester_merkle_leaves")
        self.checkpoints = dialect.table("sequester_checkpoints")
        self.events = dialect.table(events_table)
        self.event_id = "notification_id" if dialect.postgres else "rowid"
        self.tiles = TileHashes(self.leaf_hashes)
        with datastore.transaction(commit=True) as c:
            serialize_ddl(c, postgres=dialect.postgres, schema=dialect.schema)
            c.execute(
                dialect.q(
                    "CREATE TABLE IF NOT EXISTS {t} (leaf_index bigint PRIMARY KEY, "
                    "notification_id bigint NOT NULL UNIQUE, leaf_hash {blob} NOT NULL)",
                    t=self.leaves,
                    blob=dialect.blob,
                )
            )
            c.execute(
                dialect.q(
                    "CREATE TABLE IF NOT EXISTS {t} (size bigint PRIMARY KEY, "
                    "root {blob} NOT NULL, note text NOT NULL, created_at {ts} NOT NULL)",
                    t=self.checkpoints,
                    blob=dialect.blob,
                    ts=dialect.timestamp,
                )
            )

    @cached_property
    def append_statement(self) -> Any:
        """Rendered once (composing it per batch cost more than its share of the batch)."""
        if self.d.postgres:
            return self.d.q(
                "INSERT INTO {t} (leaf_index, notification_id, leaf_hash) "
                "SELECT b.next + u.n - 1, u.nid, u.hash "
                "FROM unnest(%b::bigint[], %b::bytea[]) WITH ORDINALITY AS u(nid, hash, n), "
                "(SELECT COALESCE(MAX(leaf_index), -1) + 1 AS next FROM {t}) AS b",
                t=self.leaves,
            ).as_bytes(None)
        return self.d.q(
            "INSERT INTO {t} (leaf_index, notification_id, leaf_hash) "
            "SELECT COALESCE(MAX(leaf_index), -1) + 1, %s, %s FROM {t}",
            t=self.leaves,
        )

    def append_with(
        self, cursor: Any, ids: Sequence[int] | None, stored_events: Sequence[StoredEvent]
    ) -> None:
        """Called by the recorder inside the events' transaction, after their insert."""
        assert ids is not None and len(ids) == len(stored_events)
        hashes = [leaf_hash(leaf_data(nid, s.originator_id, s.originator_version, s.topic, s.state))
                  for nid, s in zip(ids, stored_events, strict=True)]
        if self.d.postgres:  # one statement for the batch, leaves in the ids' order
            cursor.execute(self.append_statement, (list(ids), hashes))
        else:
            cursor.executemany(self.append_statement, list(zip(ids, hashes, strict=True)))

    # -- reading -------------------------------------------------------------------
    def query(self, template: str, params: tuple[Any, ...] = (), **parts: Any) -> list[list[Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.d.q(template, **parts), params)
            return [values(r) for r in c.fetchall()]

    def stored_leaves(self) -> list[tuple[int, int, bytes]]:
        rows = self.query(
            "SELECT leaf_index, notification_id, leaf_hash FROM {t} ORDER BY leaf_index",
            t=self.leaves,
        )
        return [(int(i), int(n), bytes(h)) for i, n, h in rows]

    def event_rows(self, batch: int = 10_000) -> Iterator[tuple[int, Any, int, str, bytes]]:
        """(notification id, originator id, version, topic, state) in log order, paged."""
        from psycopg import sql

        last = 0
        while True:
            rows = self.query(
                "SELECT {id}, originator_id, originator_version, topic, state FROM {t} "
                "WHERE {id} > %s ORDER BY {id} LIMIT %s",
                (last, batch),
                id=sql.SQL(self.event_id),
                t=self.events,
            )
            for nid, oid, version, topic, state in rows:
                yield int(nid), oid, int(version), topic, bytes(state)
            if len(rows) < batch:
                return
            last = int(rows[-1][0])

    def size(self) -> int:
        """Leaves stored (indexes are 0, 1, …: the largest one plus one, read off the key)."""
        rows = self.query("SELECT COALESCE(MAX(leaf_index), -1) + 1 FROM {t}", t=self.leaves)
        return int(rows[0][0])

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self.query(
            "SELECT leaf_hash FROM {t} WHERE leaf_index >= %s AND leaf_index < %s "
            "ORDER BY leaf_index", (start, end), t=self.leaves,
        )
        return [bytes(h) for (h,) in rows]

    def tree(self, size: int | None = None) -> TiledTree:
        """The tree of the first `size` leaves (default: all stored)."""
        stored = self.size()
        if size is not None and size > stored:
            raise InvalidInput(f"tree size {size} is larger than the log, which has {stored} leaves")
        return self.tiles.tree(stored if size is None else size)

    # -- checkpoints ---------------------------------------------------------------
    def checkpoint(self, signer: CheckpointSigner) -> str:
        """Sign the current tree head (origin: the key's name) and store it; return the
        signed note. Refuses to sign a tree that is not an extension of the latest
        stored checkpoint: the service never signs a rewritten history over its own."""
        tree = self.tree()
        size, root = len(tree), tree.root()
        latest = self.latest_checkpoint()
        if latest is not None and (latest.size > size or tree.root(latest.size) != latest.root):
            raise TamperDetected(
                f"the log's first {latest.size} leaves no longer hash to the root of its latest "
                "signed checkpoint: refusing to sign (run sequester audit verify)")
        note = signer.sign(Checkpoint(signer.name, size, root))
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self.d.q(
                    "INSERT INTO {t} (size, root, note, created_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (size) DO NOTHING",
                    t=self.checkpoints,
                ),
                (size, root, note, self.d.stamp(datetime.now(UTC))),
            )
        return note

    def stored_checkpoints(self) -> list[tuple[int, bytes, str]]:
        rows = self.query("SELECT size, root, note FROM {t} ORDER BY size", t=self.checkpoints)
        return [(int(s), bytes(r), str(n)) for s, r, n in rows]

    def _checkpoints(self, where: str, params: tuple[Any, ...]) -> StoredCheckpoint | None:
        rows = self.query(
            "SELECT size, root, note, created_at FROM {t} " + where, params, t=self.checkpoints
        )
        if not rows:
            return None
        size, root, note, at = rows[0]
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        return StoredCheckpoint(int(size), bytes(root), str(note), at)

    def checkpoint_of(self, size: int) -> StoredCheckpoint | None:
        return self._checkpoints("WHERE size = %s", (size,))

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self._checkpoints("ORDER BY size DESC LIMIT 1", ())

    def served_checkpoint(
        self, signer: Callable[[], CheckpointSigner], interval: float
    ) -> StoredCheckpoint:
        """The latest stored checkpoint; signed anew first if there is none, or if the
        tree has grown and the latest is `interval` seconds old or older."""
        latest = self.latest_checkpoint()
        if latest is None or (
            (datetime.now(UTC) - latest.created_at).total_seconds() >= interval
            and self.size() > latest.size
        ):
            self.checkpoint(signer())
            latest = self.latest_checkpoint()
        assert latest is not None
        return latest
