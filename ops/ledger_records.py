"""Audit records in the Merkle log: their leaf indexes, and the fields their leaves
commit to, for `/audit/events` and per-record proofs.

Only rows of audit records are looked up (their topic is part of the query): an id
of a domain event, guessed or not, finds nothing here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import sql

from domain.audit.report import AUDIT_RECORD_TOPIC
from domain.errors import TamperDetected
from ops.ledger import LEAF_PREFIX, Ledger, leaf_data_of_digest


@dataclass(frozen=True)
class RecordLeaf:
    """One audit record's stored row, as its Merkle leaf commits to it."""

    leaf_index: int
    notification_id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state_sha256: bytes
    stored_leaf_hash: bytes

    def leaf_data(self) -> bytes:
        return leaf_data_of_digest(self.notification_id, self.originator_id,
                                   self.originator_version, self.topic, self.state_sha256)

    def fields(self) -> dict[str, Any]:
        return {
            "format": LEAF_PREFIX.rstrip(b"\x00").decode(),
            "notification_id": self.notification_id,
            "originator_id": str(self.originator_id),
            "originator_version": self.originator_version,
            "topic": self.topic,
            "state_sha256": self.state_sha256.hex(),
        }


def _stored_id(ledger: Ledger, record_id: UUID) -> Any:
    """The originator id as the engine stores it (SQLite: hex text)."""
    return record_id if ledger.d.postgres else record_id.hex


def leaf_indexes(ledger: Ledger, record_ids: Sequence[UUID]) -> dict[UUID, int]:
    """The leaf index of each audit record that has a row and a leaf."""
    if not record_ids:
        return {}
    marks = ", ".join(["%s"] * len(record_ids))
    rows = ledger.query(
        "SELECT e.originator_id, l.leaf_index FROM {e} AS e JOIN {l} AS l "
        "ON l.notification_id = e.{id} WHERE e.topic = %s AND e.originator_id IN (" + marks + ")",
        (AUDIT_RECORD_TOPIC, *(_stored_id(ledger, r) for r in record_ids)),
        e=ledger.events, l=ledger.leaves, id=sql.SQL(ledger.event_id),
    )
    return {_uuid(oid): int(index) for oid, index in rows}


def record_leaf(ledger: Ledger, record_id: UUID) -> RecordLeaf | None:
    """The audit record's row and leaf; None if it has no row. A row without a leaf was
    inserted behind the log's back."""
    rows = ledger.query(
        "SELECT e.{id}, e.originator_id, e.originator_version, e.topic, e.state, "
        "l.leaf_index, l.leaf_hash FROM {e} AS e LEFT JOIN {l} AS l ON l.notification_id = e.{id} "
        "WHERE e.topic = %s AND e.originator_id = %s ORDER BY e.originator_version LIMIT 1",
        (AUDIT_RECORD_TOPIC, _stored_id(ledger, record_id)),
        e=ledger.events, l=ledger.leaves, id=sql.SQL(ledger.event_id),
    )
    if not rows:
        return None
    nid, oid, version, topic, state, index, stored = rows[0]
    if index is None:
        raise TamperDetected(f"audit record {record_id} has a row but no Merkle leaf: the row "
                             "was inserted (run sequester audit verify)")
    return RecordLeaf(int(index), int(nid), _uuid(oid), int(version), str(topic),
                      hashlib.sha256(bytes(state)).digest(), bytes(stored))


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
