"""Merkle proofs for auditors: the signed tree head, inclusion and consistency proofs,
and each audit record's leaf with its proof. Every proof defaults to the latest signed
checkpoint, so a proof fetched twice comes for the same, signed, tree."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from api import audit
from api.auth import Principal
from api.deps import SystemDep, require
from domain.audit.merkle import leaf_hash
from domain.errors import InvalidInput, NotFound, OutOfOrder
from ops.bootstrap import System, checkpoint_signer
from ops.ledger import Ledger, StoredCheckpoint
from ops.ledger_records import RecordLeaf, record_leaf

router = APIRouter(tags=["audit"])
Auditor = Annotated[Principal, Depends(require("auditor", "director"))]


def ledger_of(system: System) -> Ledger:
    if system.ledger is None:
        raise NotFound("this deployment keeps no Merkle log (in-memory backend)")
    return system.ledger


def latest_signed(system: System) -> StoredCheckpoint:
    """The checkpoint served at /audit/log/checkpoint (signed anew at most every
    SEQUESTER_CHECKPOINT_INTERVAL_SECONDS, once the log grew)."""
    return ledger_of(system).served_checkpoint(
        partial(checkpoint_signer, system.settings), system.settings.checkpoint_interval_seconds
    )


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


@router.get("/audit/checkpoint", response_class=PlainTextResponse)
def checkpoint(system: SystemDep, principal: Auditor) -> PlainTextResponse:
    """The current tree head, signed now and kept (C2SP tlog-checkpoint signed note);
    it covers this request's own audit record."""
    audit.read(system, "audit.checkpoint")
    return PlainTextResponse(ledger_of(system).checkpoint(checkpoint_signer(system.settings)))


@router.get("/audit/proofs/inclusion")
def inclusion(
    system: SystemDep, principal: Auditor,
    index: int, size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """The inclusion proof of leaf `index` in the tree of `size` leaves (default: the
    latest signed checkpoint's); 400 unless 0 ≤ index < size ≤ the log's size."""
    tree = ledger_of(system).tree(size or latest_signed(system).size)
    if not 0 <= index < len(tree):
        raise InvalidInput(f"leaf index {index} must be from 0 to {len(tree) - 1} in a tree of "
                           f"size {len(tree)}")
    audit.read(system, "audit.proof.inclusion")
    return {"leaf_index": index, "tree_size": len(tree), "proof": hexes(tree.inclusion_proof(index))}


@router.get("/audit/proofs/consistency")
def consistency(
    system: SystemDep, principal: Auditor,
    old: int, new: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """The consistency proof that the tree of `old` leaves is a prefix of the one of
    `new` (default: the latest signed checkpoint's size); 400 unless 0 < old ≤ new ≤
    the log's size (RFC 9162 defines no proof from the empty tree)."""
    tree = ledger_of(system).tree(new or latest_signed(system).size)
    proof = tree.consistency_proof(old)
    audit.read(system, "audit.proof.consistency")
    return {"old_size": old, "new_size": len(tree), "proof": hexes(proof)}


@router.get("/audit/events/{record_id}/proof")
def record_proof(
    record_id: UUID, system: SystemDep, principal: Auditor,
    size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """One audit record's Merkle leaf: the fields it commits to (the README's "Leaf
    format"), the leaf hash, and its inclusion proof against the signed checkpoint of
    `size` leaves (default: the latest), with that checkpoint."""
    ledger = ledger_of(system)
    leaf = record_leaf(ledger, record_id)
    if leaf is None:
        raise NotFound(f"the log holds no audit record {record_id}")
    signed = _covering(system, ledger, leaf, size)
    audit.read(system, "audit.proof.record", str(record_id))
    data = leaf.leaf_data()
    return {
        "record_id": str(record_id),
        "leaf_index": leaf.leaf_index,
        "leaf": leaf.fields(),
        "leaf_data": data.hex(),
        "leaf_hash": leaf_hash(data).hex(),
        "tree_size": signed.size,
        "inclusion_proof": hexes(ledger.tree(signed.size).inclusion_proof(leaf.leaf_index)),
        "checkpoint": signed.note,
    }


def _covering(system: System, ledger: Ledger, leaf: RecordLeaf, size: int | None) -> StoredCheckpoint:
    """The signed checkpoint of `size` (default: the latest), which must include the leaf."""
    if size is None:
        signed = latest_signed(system)
        if leaf.leaf_index >= signed.size:
            raise OutOfOrder(
                f"audit record {leaf.originator_id} is leaf {leaf.leaf_index}, after the latest "
                f"signed checkpoint (size {signed.size}); the next is signed within "
                f"{system.settings.checkpoint_interval_seconds:g} s of a request for it")
        return signed
    ledger.tree(size)  # 400 beyond the log
    found = ledger.checkpoint_of(size)
    if found is None:
        latest = ledger.latest_checkpoint()
        raise NotFound(f"no signed checkpoint has size {size} (the latest has size "
                       f"{latest.size if latest else 0}; see /audit/log/checkpoint)")
    if leaf.leaf_index >= size:
        raise InvalidInput(f"audit record {leaf.originator_id} is leaf {leaf.leaf_index}, "
                           f"not below the tree size {size}")
    return found
