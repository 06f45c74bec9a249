"""`sequester audit verify --remote URL --checkpoint FILE`: check a served audit log
against a checkpoint kept outside it, over HTTP alone (no database, no data keys).

1. The kept checkpoint and the served one (`/audit/log/checkpoint`) must both verify
   with the log's verifier key, name the same log, and the served one must not be
   smaller.
2. Every hash tile of the served size is fetched; the leaf tiles must hash to the
   served root, every higher tile must agree with the tiles below it, and the first
   leaves must hash to the kept root (the log only grew since). With a token, the
   server's own consistency proof must verify too.
3. With a token, the records named with `--record` and a sample of `/audit/events`
   records: each one's leaf is rebuilt from the fields `/audit/events/{id}/proof`
   serves (the README's "Leaf format"), and must be the leaf at its index in the
   tiles, with an inclusion proof that verifies.

The first discrepancy is raised as `Discrepancy` (exit 1). A server that cannot be
reached or refuses the token, or a kept checkpoint that does not verify, is an error
of the run (`SequesterError`, exit 2).

urllib (standard library) rather than httpx: plain GETs with one header need nothing
more, and the verifier stays runnable from a bare install without a new dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen
from uuid import UUID

from domain.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from domain.audit.report import AUDIT_RECORD_TOPIC
from domain.audit.tiles import Tile, split_hashes, tile_mismatch, tiles_for
from domain.errors import SequesterError
from ops.checkpoints import Checkpoint, CheckpointError, verify_note
from ops.ledger import leaf_data_of_digest


class Discrepancy(Exception):
    """The served log disagrees with the kept checkpoint or with itself."""


@dataclass
class Remote:
    """GETs against one sequester service, with an optional bearer token."""

    base: str
    token: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SequesterError("--remote must be an http:// or https:// URL of the service")
        self.base = self.base.rstrip("/")

    def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        url = self.base + path + (f"?{urlencode(params)}" if params else "")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            with urlopen(Request(url, headers=headers), timeout=self.timeout) as response:
                return int(response.status), bytes(response.read())
        except HTTPError as e:
            if e.code in (401, 403):
                raise SequesterError(f"{path}: refused ({e.code}): {_detail(e.read())}; give "
                                     "--token (or --token-file) with the auditor role") from None
            return int(e.code), bytes(e.read())
        except (URLError, OSError) as e:
            reason = getattr(e, "reason", None) or type(e).__name__
            raise SequesterError(f"cannot reach {self.base}: {reason}") from None

    def ok(self, path: str, what: str, params: dict[str, Any] | None = None) -> bytes:
        status, body = self.get(path, params)
        if status != 200:
            raise Discrepancy(f"{what}: {path} answered {status}: {_detail(body)}")
        return body

    def json(self, path: str, what: str, params: dict[str, Any] | None = None) -> Any:
        try:
            return json.loads(self.ok(path, what, params))
        except ValueError:
            raise Discrepancy(f"{what}: {path} did not answer JSON") from None


def _detail(body: bytes) -> str:
    try:
        parsed = json.loads(body)
        return f"{parsed.get('error')}: {parsed.get('detail')}"
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")


@dataclass
class RemoteReport:
    size: int
    root: bytes
    kept_size: int
    tiles: int
    records: int


def verify_remote(remote: Remote, kept_note: str, verifier_key: str, sample: int,
                  named: Sequence[UUID] = ()) -> RemoteReport:
    if named and not remote.token:
        raise SequesterError("--record needs --token (or --token-file) with the auditor role")
    try:
        kept = verify_note(kept_note, verifier_key)
    except CheckpointError as e:
        raise SequesterError(f"the kept checkpoint does not verify with the verifier key: {e}") from None
    served_note = remote.ok("/audit/log/checkpoint", "the served checkpoint").decode("utf-8", "replace")
    served = served_checkpoint(served_note, verifier_key, kept)
    tiles = {t: remote.ok(f"/audit/log/{t.path()}", f"tile {t.path()} of the served size")
             for t in tiles_for(served.size)}
    tree = tree_of(tiles, served)
    if tree.root(kept.size) != kept.root:
        raise Discrepancy(
            f"the served log's first {kept.size} leaves do not hash to the kept checkpoint's "
            "root: history before the kept checkpoint was rewritten")
    records = 0
    if remote.token:
        check_consistency(remote, kept, served)
        items = [named_record(remote, r, served.size) for r in named]
        for item in [*items, *sample_records(remote, served.size, sample)]:
            check_record(remote, item, tree, served, served_note)
            records += 1
    return RemoteReport(served.size, served.root, kept.size, len(tiles), records)


def served_checkpoint(note: str, verifier_key: str, kept: Checkpoint) -> Checkpoint:
    try:
        served = verify_note(note, verifier_key, origin=kept.origin)
    except CheckpointError as e:
        raise Discrepancy(f"the served checkpoint does not verify: {e}") from None
    if served.size < kept.size:
        raise Discrepancy(f"the served checkpoint covers {served.size} leaves, fewer than the "
                          f"kept checkpoint's {kept.size}: the log was truncated")
    if served.size == kept.size and served.root != kept.root:
        raise Discrepancy(f"the served checkpoint has the kept checkpoint's size {kept.size} but "
                          "another root: the log's history was rewritten")
    return served


def tree_of(tiles: dict[Tile, bytes], served: Checkpoint) -> MerkleTree:
    """The leaf hashes of the level-0 tiles, once they hash to the served root and every
    higher tile agrees with them."""
    level0 = [t for t in sorted(tiles) if t.level == 0]
    for tile in level0:
        if len(tiles[tile]) != tile.width * 32:
            raise Discrepancy(f"tile {tile.path()} has {len(tiles[tile])} bytes, not {tile.width * 32}")
    tree = MerkleTree(h for t in level0 for h in split_hashes(tiles[t]))
    if tree.root() != served.root:
        raise Discrepancy(f"the served tiles do not hash to the served checkpoint's root "
                          f"(size {served.size})")
    if problem := tile_mismatch(tiles):
        raise Discrepancy(f"the served tiles disagree: {problem}")
    return tree


def check_consistency(remote: Remote, kept: Checkpoint, served: Checkpoint) -> None:
    if not 0 < kept.size < served.size:
        return
    body = remote.json("/audit/proofs/consistency", "the consistency proof",
                       {"old": kept.size, "new": served.size})
    proof = [bytes.fromhex(p) for p in body.get("proof", [])]
    if not verify_consistency(kept.size, served.size, kept.root, served.root, proof):
        raise Discrepancy(f"the served consistency proof from size {kept.size} to {served.size} "
                          "does not verify")


def sample_records(remote: Remote, size: int, sample: int) -> list[dict[str, Any]]:
    """Up to `sample` audit records covered by the served checkpoint: all of them if
    there are no more than that, else records at random offsets."""
    count = _record_count(remote)
    if count <= sample:
        items = [i for offset in range(0, count, 500) for i in _events(remote, offset, 500)]
    else:
        offsets = random.SystemRandom().sample(range(count), sample)
        items = [i for offset in sorted(offsets) for i in _events(remote, offset, 1)]
    for item in items:
        if item.get("leaf_index") is None:
            raise Discrepancy(f"audit record {item.get('record_id')} is listed by /audit/events "
                              "but the log holds no row for it: the row was deleted")
    return [i for i in items if i["leaf_index"] < size]


def named_record(remote: Remote, record_id: UUID, size: int) -> dict[str, Any]:
    """A record the auditor names (from an export, a report): where its proof puts it."""
    path = f"/audit/events/{record_id}/proof"
    status, body = remote.get(path, {"size": size})
    if status == 400:  # not covered by the served checkpoint yet
        raise SequesterError(f"audit record {record_id}: {_detail(body)}")
    if status != 200:
        raise Discrepancy(f"audit record {record_id}: {path} answered {status}: {_detail(body)}")
    index = json.loads(body).get("leaf_index")
    if not isinstance(index, int) or not 0 <= index < size:
        raise Discrepancy(f"audit record {record_id}: its proof names no leaf of the tree")
    return {"record_id": str(record_id), "leaf_index": index}


def _events(remote: Remote, offset: int, limit: int) -> list[dict[str, Any]]:
    body = remote.json("/audit/events", "the audit records", {"offset": offset, "limit": limit})
    return list(body.get("items", []))


def _record_count(remote: Remote) -> int:
    """How many records /audit/events lists, by doubling then bisecting offsets."""
    low, high = 0, 1  # an offset with a record, one without (once found)
    while _events(remote, high - 1, 1):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _events(remote, middle - 1, 1) else (low, middle)
    return low


def check_record(remote: Remote, item: dict[str, Any], tree: MerkleTree, served: Checkpoint,
                 served_note: str) -> None:
    record_id, index = str(item.get("record_id")), int(item["leaf_index"])
    where = f"audit record {record_id} (leaf {index})"
    body = remote.json(f"/audit/events/{record_id}/proof", f"the proof of {where}",
                       {"size": served.size})
    try:
        fields = body["leaf"]
        data = leaf_data_of_digest(int(fields["notification_id"]), UUID(fields["originator_id"]),
                                   int(fields["originator_version"]), str(fields["topic"]),
                                   bytes.fromhex(fields["state_sha256"]))
        proof = [bytes.fromhex(p) for p in body["inclusion_proof"]]
    except (KeyError, TypeError, ValueError) as e:
        raise Discrepancy(f"the proof served for {where} is malformed ({type(e).__name__})") from None
    if problem := _record_problem(record_id, index, fields, body, data, tree, proof, served):
        raise Discrepancy(f"{where}: {problem}")
    if body.get("checkpoint") != served_note:
        raise Discrepancy(f"{where}: its proof comes with another checkpoint than the served one")


def _record_problem(record_id: str, index: int, fields: dict[str, Any], body: dict[str, Any],
                    data: bytes, tree: MerkleTree, proof: list[bytes],
                    served: Checkpoint) -> str | None:
    leaf = leaf_hash(data)
    if str(fields["originator_id"]) != record_id or fields["topic"] != AUDIT_RECORD_TOPIC:
        return f"the leaf served for it is event {fields['originator_id']} of topic {fields['topic']}"
    if body.get("leaf_index") != index:
        return f"its proof names leaf {body.get('leaf_index')}"
    if body.get("leaf_data") != data.hex() or body.get("leaf_hash") != leaf.hex():
        return "the served leaf data or leaf hash is not the one its fields make"
    if leaf != tree.levels[0][index]:
        return ("its leaf rebuilt from the served fields is not the leaf at its index in the "
                "served tiles: its row was edited, swapped or reordered")
    if not verify_inclusion(leaf, index, served.size, proof, served.root):
        return "its inclusion proof does not verify against the served checkpoint"
    return None


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SequesterError(f"cannot read {what} {path}: {getattr(e, 'strerror', None) or e}") from None


def run_remote(args: argparse.Namespace) -> int:
    """The CLI: one line naming the first discrepancy on stderr and exit 1, or a summary."""
    if len(args.checkpoint) != 1:
        raise SequesterError("--remote needs exactly one --checkpoint FILE: the checkpoint you kept")
    if not args.verifier_key:
        raise SequesterError("--remote needs --verifier-key: the log's public key (on the "
                             "server, sequester audit checkpoint --verifier-key prints it)")
    key = args.verifier_key
    if os.path.isfile(key):
        key = _read(key, "the verifier key file").strip()
    token = _read(args.token_file, "the token file").strip() if args.token_file else args.token
    remote = Remote(args.remote, token or None)
    try:
        named = [UUID(r) for r in args.record]
    except ValueError:
        raise SequesterError("--record takes an audit record id (a UUID)") from None
    try:
        report = verify_remote(remote, _read(args.checkpoint[0], "the checkpoint"), key,
                               args.sample, named)
    except Discrepancy as e:
        print(f"sequester: audit verify FAILED: {e}", file=sys.stderr)
        return 1
    records = (f"{report.records} audit record(s) included" if remote.token
               else "no records sampled (no --token)")
    print(f"served audit log verified: {report.size} leaves, root {report.root.hex()}, "
          f"{report.tiles} tile(s), consistent with the kept checkpoint of size "
          f"{report.kept_size}; {records}")
    return 0
