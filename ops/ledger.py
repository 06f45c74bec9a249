"""Tamper evidence (DESIGN §3 item 3): every stored event, domain or audit, is a leaf
of an RFC 6962 Merkle tree in notification order, written in the event's own
transaction; checkpoints of the tree are signed (C2SP tlog-checkpoint); `verify`
recomputes everything from the stored ciphertexts, so it needs no keys and still
works after shredding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.audit.merkle import CompactRange, leaf_hash
from ops.checkpoints import Checkpoint, CheckpointError, CheckpointSigner, verify_note
from ops.ledger_scan import scan_intact
from ops.sqltext import Dialect, serialize_ddl, values

LEAF_PREFIX = b"sequester-leaf-v1\x00"


def leaf_data(
    notification_id: int, originator_id: UUID | str, version: int, topic: str, state: bytes
) -> bytes:
    """The bytes a leaf commits to: the stored row, its position included."""
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
            hashlib.sha256(state).digest(),
        )
    )


class Ledger:
    """The leaf and checkpoint tables, beside the events, on either engine."""

    def __init__(self, datastore: Any, dialect: Dialect, events_table: str) -> None:
        self.datastore, self.d = datastore, dialect
        self.leaves = dialect.table("sequester_merkle_leaves")
        self.checkpoints = dialect.table("sequester_checkpoints")
        self.events = dialect.table(events_table)
        self.event_id = "notification_id" if dialect.postgres else "rowid"
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
    def _query(self, template: str, params: tuple[Any, ...] = (), **parts: Any) -> list[list[Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.d.q(template, **parts), params)
            return [values(r) for r in c.fetchall()]

    def stored_leaves(self) -> list[tuple[int, int, bytes]]:
        rows = self._query(
            "SELECT leaf_index, notification_id, leaf_hash FROM {t} ORDER BY leaf_index",
            t=self.leaves,
        )
        return [(int(i), int(n), bytes(h)) for i, n, h in rows]

    def event_rows(self, batch: int = 10_000) -> Iterator[tuple[int, Any, int, str, bytes]]:
        """(notification id, originator id, version, topic, state) in log order, paged."""
        from psycopg import sql

        last = 0
        while True:
            rows = self._query(
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
        rows = self._query("SELECT COUNT(*) FROM {t}", t=self.leaves)
        return int(rows[0][0])

    def current_root(self) -> tuple[int, bytes]:
        tree = CompactRange()
        tree.extend(h for _, _, h in self.stored_leaves())
        return tree.size, tree.root()

    # -- checkpoints ---------------------------------------------------------------
    def checkpoint(self, signer: CheckpointSigner, origin: str) -> str:
        """Sign the current tree head and store it; return the signed note."""
        size, root = self.current_root()
        note = signer.sign(Checkpoint(origin, size, root))
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
        rows = self._query("SELECT size, root, note FROM {t} ORDER BY size", t=self.checkpoints)
        return [(int(s), bytes(r), str(n)) for s, r, n in rows]


@dataclass
class VerifyReport:
    size: int = 0
    root: bytes = b""
    checked_checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def describe(nid: int, oid: Any, version: int) -> str:
    return f"row {nid} (event {oid} version {version})"


def verify(
    ledger: Ledger, verifier_keys: Iterable[str], extra_notes: Iterable[str] = ()
) -> VerifyReport:
    """Recompute every leaf from the stored rows, match them with the stored leaves,
    and check every stored (and given) signed checkpoint against the recomputed tree.
    The first problem names the row. An intact log is confirmed in one streamed pass
    (`ops.ledger_scan`); anything else is walked row by row to name the problem."""
    report = VerifyReport()
    keys = list(verifier_keys)
    targets = _checkpoint_targets(ledger, keys, list(extra_notes), report)
    if not report.problems:
        intact = scan_intact(ledger, LEAF_PREFIX, targets)
        if intact is not None:
            report.size, report.root, report.checked_checkpoints = intact
            return report
    return _walk(ledger, targets, report)


def _walk(
    ledger: Ledger, targets: list[tuple[int, bytes, str]], report: VerifyReport
) -> VerifyReport:
    """Leaves in index order beside rows in notification order; stops at the first problem."""
    leaves = ledger.stored_leaves()
    tree = CompactRange()
    _check_targets(tree, targets, report)  # checkpoints of the empty log
    rows = ledger.event_rows()
    for expected_index, (index, nid, stored_hash) in enumerate(leaves):
        if index != expected_index:
            report.problems.append(f"Merkle leaf {expected_index} is missing: the leaf table was edited")
            return report
        row = next(rows, None)
        computed = leaf_hash(leaf_data(*row)) if row is not None else b""
        problem = _match(row, nid, stored_hash, computed)
        if problem:
            report.problems.append(problem)
            return report
        tree.append(computed)
        _check_targets(tree, targets, report)
        if report.problems:
            return report
    extra = next(rows, None)
    if extra is not None:
        report.problems.append(f"{describe(*extra[:3])} was inserted: it has no Merkle leaf")
        return report
    for size, _root, where in targets:
        report.problems.append(f"{where} covers {size} rows but the log has only {tree.size}")
        return report
    report.size, report.root = tree.size, tree.root()
    return report


def _match(
    row: tuple[int, Any, int, str, bytes] | None, nid: int, stored_hash: bytes, computed: bytes
) -> str | None:
    if row is None or row[0] > nid:
        return f"row {nid} was deleted: its Merkle leaf has no row"
    if row[0] < nid:
        return f"{describe(*row[:3])} was inserted: it has no Merkle leaf"
    if computed != stored_hash:
        return f"{describe(*row[:3])} was edited, swapped or reordered: it no longer matches its leaf"
    return None


def _checkpoint_targets(
    ledger: Ledger, keys: list[str], notes: list[str], report: VerifyReport
) -> list[tuple[int, bytes, str]]:
    targets = []
    for size, root, note in ledger.stored_checkpoints():
        targets.append((size, root, f"stored checkpoint at size {size}"))
        if keys:
            _verified(note, keys, f"stored checkpoint at size {size}", report)
    for n, note in enumerate(notes, 1):
        checkpoint = _verified(note, keys, f"given checkpoint {n}", report)
        if checkpoint is not None:
            targets.append((checkpoint.size, checkpoint.root, f"given checkpoint (size {checkpoint.size})"))
    return sorted(targets)


def _verified(note: str, keys: list[str], where: str, report: VerifyReport) -> Checkpoint | None:
    try:
        return verify_note(note, keys)
    except CheckpointError as e:
        report.problems.append(f"{where}: {e}")
        return None


def _check_targets(tree: CompactRange, targets: list[tuple[int, bytes, str]], report: VerifyReport) -> None:
    while targets and targets[0][0] == tree.size:
        size, root, where = targets.pop(0)
        report.checked_checkpoints += 1
        if tree.root() != root:
            report.problems.append(
                f"{where} does not match the log: a row at or before position {size} was "
                "changed, or the log was truncated and re-extended"
            )
            return
