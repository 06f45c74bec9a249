"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Every stored event is a leaf in notification order. A signed tree head (checkpoint)
commits to the whole history; inclusion proofs show one event is in it, consistency
proofs show a later tree only appended to an earlier one. Pure: hashlib only.

Speed matters because `sequester audit verify` rehashes the whole log: `root` and
`CompactRange` touch each node once, iteratively, and keep no per-leaf copies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from hashlib import sha256

from domain.errors import InvalidInput

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 ‖ data): the prefix keeps a leaf from passing for an inner node."""
    return sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n ≥ 2): where MTH splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1, computed level by level.

    Pairing neighbours and carrying an odd last node up unchanged builds exactly
    the tree that splitting at the largest power of two describes.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [
            sha256(_NODE + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=False)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


class CompactRange:
    """Appends leaf hashes one at a time and gives the root at any size.

    Holds only the roots of the perfect subtrees covering the leaves so far (one
    per set bit of the size), so a verifier streams a log in O(log n) memory.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise InvalidInput(f"a compact range of size {size} needs {size.bit_count()} hashes")
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The perfect subtree roots, largest (leftmost) first: enough to resume later."""
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        hashes, size, merged = self._hashes, self._size, leaf_hash
        while size & 1:
            merged = sha256(_NODE + hashes.pop() + merged).digest()
            size >>= 1
        hashes.append(merged)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """`append` for many leaves, inlined because verifying 100k leaves is hot."""
        hashes, size = self._hashes, self._size
        pop, push = hashes.pop, hashes.append
        for merged in leaf_hashes:
            carry = size
            while carry & 1:
                merged = sha256(_NODE + pop() + merged).digest()
                carry >>= 1
            push(merged)
            size += 1
        self._size = size

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        merged = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            merged = sha256(_NODE + left + merged).digest()
        return merged


MerkleAccumulator = CompactRange


class TreeProofs(ABC):
    """Roots and RFC 6962 proofs of a log at any size, from its perfect subtree hashes.

    `perfect(h, k)` is the hash of leaves [k·2^h, (k+1)·2^h). Any range the RFC
    recursion needs is folded from O(log n) of them, so a proof costs O(log² n) hash
    operations and copies no leaves. Subclasses say where those hashes come from.
    """

    @abstractmethod
    def __len__(self) -> int:
        """The number of leaves."""

    @abstractmethod
    def perfect(self, height: int, index: int) -> bytes:
        """MTH of leaves [index·2^height, (index+1)·2^height), all present."""

    def root(self, size: int | None = None) -> bytes:
        size = self._size(size)
        return self._range_hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(m, D[n]) of RFC 6962 §2.1.1, leaf-side sibling first."""
        size = self._size(size)
        if not 0 <= index < size:
            raise InvalidInput(f"leaf index {index} is outside a tree of size {size}")
        lo, hi, path = 0, size, []
        while hi - lo > 1:
            mid = lo + _split(hi - lo)
            if index < mid:
                path.append(self._range_hash(mid, hi))
                hi = mid
            else:
                path.append(self._range_hash(lo, mid))
                lo = mid
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(m, D[n]) of RFC 9162 §2.1.4, defined for 0 < m ≤ n (empty when m = n)."""
        size = self._size(size)
        if old_size < 1:
            raise InvalidInput(
                f"old tree size {old_size} must be at least 1: RFC 9162 defines consistency "
                "proofs only from a non-empty tree"
            )
        if old_size > size:
            raise InvalidInput(f"old tree size {old_size} is larger than the tree size {size}")
        if old_size == size:
            return []
        lo, hi, m, complete, proof = 0, size, old_size, True, []
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                proof.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._range_hash(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        if not complete:
            proof.append(self._range_hash(lo, hi))
        proof.reverse()
        return proof

    def _size(self, size: int | None) -> int:
        if size is None:
            return len(self)
        if not 0 <= size <= len(self):
            raise InvalidInput(f"tree size {size} is outside the log's {len(self)} leaves")
        return size

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), where start is aligned as the RFC recursion makes it."""
        parts = []
        while start < end:
            height = (end - start).bit_length() - 1
            if start:
                height = min(height, (start & -start).bit_length() - 1)
            parts.append(self.perfect(height, start >> height))
            start += 1 << height
        merged = parts.pop()
        while parts:
            merged = sha256(_NODE + parts.pop() + merged).digest()
        return merged


class MerkleTree(TreeProofs):
    """Every perfect subtree hash of a log, in memory: `levels[h][k]` is `perfect(h, k)`.
    That is about 2n hashes in all."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        below = self.levels[0]
        while len(below) > 1:
            above = [
                sha256(_NODE + a + b).digest()
                for a, b in zip(below[::2], below[1::2], strict=False)
            ]
            self.levels.append(above)
            below = above

    def __len__(self) -> int:
        return len(self.levels[0])

    def perfect(self, height: int, index: int) -> bytes:
        return self.levels[height][index]

    def append(self, leaf_hash: bytes) -> None:
        self.levels[0].append(leaf_hash)
        height = 0
        while len(self.levels[height]) % 2 == 0:
            below = self.levels[height]
            if height + 1 == len(self.levels):
                self.levels.append([])
            self.levels[height + 1].append(sha256(_NODE + below[-2] + below[-1]).digest())
            height += 1


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion proof for leaf `index` in the tree of all `leaf_hashes`."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof from the first `old_size` leaves to all of `leaf_hashes`."""
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


def _all_hashes(*hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` place `leaf_hash` at `index` under `root`?"""
    if not 0 <= index < size or not _all_hashes(leaf_hash, root, *proof):
        return False
    fn, sn, merged = index, size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            merged = sha256(_NODE + sibling + merged).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            merged = sha256(_NODE + merged + sibling).digest()
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and merged == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (new_size, new_root) an append-only extension?"""
    if not 0 <= old_size <= new_size or not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT and (new_size > 0 or new_root == EMPTY_ROOT)
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    if old_size & (old_size - 1) == 0:
        proof = [old_root, *proof]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_merged = new_merged = proof[0]
    for node in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_merged = sha256(_NODE + node + old_merged).digest()
            new_merged = sha256(_NODE + node + new_merged).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_merged = sha256(_NODE + new_merged + node).digest()
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and old_merged == old_root and new_merged == new_root
