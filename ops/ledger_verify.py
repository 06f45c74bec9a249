"""`sequester audit verify`: recompute every leaf from the stored rows, match them with
the stored leaves, and check every stored (and given) signed checkpoint against the
recomputed tree. Needs no data keys, so it still works after shredding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.audit.merkle import CompactRange, leaf_hash
from ops.checkpoints import Checkpoint, CheckpointError, verify_note
from ops.ledger import LEAF_PREFIX, Ledger, leaf_data
from ops.ledger_scan import scan_intact


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
