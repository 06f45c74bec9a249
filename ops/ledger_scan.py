"""The fast path of `ops.ledger.verify`: one ordered pass over the leaves joined with
their rows, in a single snapshot, hashing with no per-row objects.

It answers only "is the log intact?": every leaf index in order from 0, each leaf's row
present, notification ids strictly increasing, as many rows as leaves (so the rows are
exactly the leaves' rows, in the same order), every recomputed leaf hash equal to the
stored one, and every checkpoint root equal to the tree's at its size. Then the result
is what the row-by-row walk in `ops.ledger` would report. At the first sign of
anything else it gives up (None) and the walk runs, to name the problem exactly as it
always has.
"""

from __future__ import annotations

import struct
from hashlib import sha256
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import tuple_row

from domain.audit.merkle import CompactRange

PAGE = 10_000
#: notification id (unsigned), originator id, version (signed): as `leaf_data` packs them.
_IDS = struct.Struct(">Q16sq")
Target = tuple[int, bytes, str]


def _topic_part(topic: str) -> bytes:
    encoded = topic.encode()
    return len(encoded).to_bytes(4, "big") + encoded


class _Scan:
    """One pass; `leaf` and `extend` are the hot loop, kept free of attribute lookups."""

    def __init__(self, leaf_prefix: bytes, targets: list[Target]) -> None:
        self.head = b"\x00" + leaf_prefix  # leaf_hash = SHA-256(0x00 ‖ leaf_data)
        self.pending = sorted(targets)
        self.tree = CompactRange()
        self.checked = 0
        self.last_id = -1

    def hashes(self, rows: list[tuple[Any, ...]], first: int) -> list[bytes] | None:
        """The leaf hashes of one page, or None if any row breaks the rules above."""
        head, pack, digest, topics = self.head, _IDS.pack, sha256, dict[str, bytes]()
        fromhex, hashes, last = bytes.fromhex, list[bytes](), self.last_id
        for index, nid, stored, present, oid, version, topic, state in rows:
            if index != first + len(hashes) or present is None or nid <= last:
                return None
            raw = oid.bytes if type(oid) is UUID else fromhex(oid)
            if len(raw) != 16:
                return None
            part = topics.get(topic) or topics.setdefault(topic, _topic_part(topic))
            leaf = digest(head + pack(nid, raw, version) + part + digest(state).digest()).digest()
            if leaf != stored:
                return None
            hashes.append(leaf)
            last = nid
        self.last_id = last
        return hashes

    def extend(self, hashes: list[bytes]) -> bool:
        """Append a page's hashes, checking each checkpoint at its size."""
        tree, pending, done = self.tree, self.pending, 0
        while pending and pending[0][0] - tree.size <= len(hashes) - done:
            size, root, _ = pending.pop(0)
            take = size - tree.size
            if take < 0:
                return False
            tree.extend(hashes[done : done + take])
            done += take
            if tree.root() != root:
                return False
            self.checked += 1
        tree.extend(hashes[done:])
        return True


def scan_intact(ledger: Any, leaf_prefix: bytes, targets: list[Target]) -> tuple[int, bytes, int] | None:
    """(size, root, checkpoints checked) of an intact log; None otherwise (or on any
    error: the walk that follows raises it again, or names the problem)."""
    d = ledger.d
    count = d.q("SELECT (SELECT COUNT(*) FROM {e}), (SELECT COUNT(*) FROM {l})",
                e=ledger.events, l=ledger.leaves)  # fmt: skip
    page = d.q(
        "SELECT l.leaf_index, l.notification_id, l.leaf_hash, e.{id}, e.originator_id, "
        "e.originator_version, e.topic, e.state FROM {l} AS l LEFT JOIN {e} AS e "
        "ON e.{id} = l.notification_id WHERE l.leaf_index >= %s ORDER BY l.leaf_index LIMIT %s",
        l=ledger.leaves, e=ledger.events, id=sql.SQL(ledger.event_id),
    )  # fmt: skip
    scan = _Scan(leaf_prefix, targets)
    try:
        with ledger.datastore.transaction(commit=False) as c:
            if d.postgres:  # one snapshot for the count and every page
                c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            c.row_factory = tuple_row if d.postgres else None
            c.execute(count)
            events, leaves = c.fetchone()
            if events != leaves:
                return None
            binary = {"binary": True} if d.postgres else {}  # no hex-decoding of payloads
            while scan.tree.size < leaves:
                c.execute(page, (scan.tree.size, PAGE), **binary)
                hashes = scan.hashes(c.fetchall(), scan.tree.size)
                if not hashes or not scan.extend(hashes):
                    return None
    except Exception:  # noqa: BLE001 - the walk reads again and raises or names it
        return None
    if scan.tree.size != leaves or not scan.extend([]) or scan.pending:
        return None
    return scan.tree.size, scan.tree.root(), scan.checked
