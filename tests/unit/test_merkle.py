"""RFC 6962 / RFC 9162 Merkle tree: published vectors, a reference cross-check, properties.

Vectors: transparency-dev/merkle `testonly/constants.go` (leaves, node and root hashes),
`testonly/reference_test.go` and `proof/verify_test.go` (inclusion and consistency
proofs); the same leaves and values as google/certificate-transparency's tests.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from domain.errors import InvalidInput

h = bytes.fromhex

LEAVES = [
    h(x)
    for x in (
        "", "00", "10", "2021", "3031", "40414243",
        "5051525354555657", "606162636465666768696a6b6c6d6e6f",
    )
]  # fmt: skip
LEAF_HASHES = [leaf_hash(x) for x in LEAVES]

ROOTS = [  # by tree size 0..8
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

N01 = h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")  # leaf 1
N00 = h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")  # leaf 0
N04 = h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")  # leaf 4
N06 = h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f")  # leaf 6
N10 = h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")  # leaves 0-1
N11 = h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e")  # leaves 2-3
N12 = h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a")  # leaves 4-5
N13 = h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0")  # leaves 6-7
N20 = h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")  # leaves 0-3
N21 = h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")  # leaves 4-7

INCLUSION = [  # (index, size, proof)
    (0, 1, []),
    (0, 2, [N01]),
    (1, 2, [N00]),
    (2, 3, [N10]),
    (1, 5, [N00, N11, N04]),
    (0, 8, [N01, N11, N21]),
    (5, 8, [N04, N13, N20]),
]
INCLUSION_FROM_VERIFY_TEST = [
    (0, 8, [N01, N11, N21]),
    (5, 8, [N04, N13, N20]),
    (2, 3, [N10]),
    (1, 5, [N00, N11, N04]),
]

CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, [N01, N11, N21]),
    (2, 5, [N11, N04]),
    (6, 8, [N12, N13, N20]),
    (6, 7, [N12, N06, N20]),
]


# ---- a literal transcription of the RFC 6962 definitions, for cross-checking ----


def ref_root(d: list[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return node_hash(ref_root(d[:k]), ref_root(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return [*ref_path(m, d[:k]), ref_root(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_root(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_root(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_root(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_root(d[:k])]


def hashes(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def flip(value: bytes, at: int) -> bytes:
    return value[:at] + bytes([value[at] ^ 0x01]) + value[at + 1 :]


# ---- published vectors ----


def test_hashing_prefixes_leaves_and_nodes() -> None:
    assert leaf_hash(b"") == N00
    assert node_hash(LEAF_HASHES[0], LEAF_HASHES[1]) == N10
    assert ROOTS[0] == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_root_matches_published_root_for_each_size(size: int) -> None:
    assert root(LEAF_HASHES[:size]) == ROOTS[size]


@pytest.mark.parametrize("size", range(9))
def test_tree_and_compact_range_match_published_roots(size: int) -> None:
    compact = CompactRange()
    compact.extend(LEAF_HASHES[:size])
    assert MerkleTree(LEAF_HASHES).root(size) == ROOTS[size]
    assert compact.root() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proof_matches_published_vector(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert inclusion_proof(LEAF_HASHES[:size], index) == proof


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_published_inclusion_proof_verifies(index: int, size: int, proof: list[bytes]) -> None:
    assert verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proof_matches_published_vector(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAF_HASHES[:new], old) == proof


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_published_consistency_proof_verifies(old: int, new: int, proof: list[bytes]) -> None:
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_FROM_VERIFY_TEST)
def test_corrupted_inclusion_probes_are_refused(index: int, size: int, proof: list[bytes]) -> None:
    leaf, good = LEAF_HASHES[index], ROOTS[size]
    probes = [
        (leaf, index - 1, size, proof, good),
        (leaf, index + 1, size, proof, good),
        (leaf, index ^ 2, size, proof, good),
        (leaf, index, size * 2, proof, good),
        (leaf, index, size // 2, proof, good),
        (b"WrongLeaf", index, size, proof, good),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, [*proof, b""], good),
        (leaf, index, size, [*proof, good], good),
        (leaf, index, size, [b"", *proof], good),
        (leaf, index, size, [good, *proof], good),
        (leaf, index, size, proof[:-1], good),
    ]
    assert not any(verify_inclusion(*probe) for probe in probes)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY[1:])
def test_corrupted_consistency_probes_are_refused(old: int, new: int, proof: list[bytes]) -> None:
    r1, r2 = ROOTS[old], ROOTS[new]
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    assert not any(verify_consistency(*probe) for probe in probes)


# ---- edges ----


def test_empty_tree_is_consistent_with_any_tree_only_under_the_empty_root() -> None:
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, ROOTS[1], ROOTS[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT])


def test_equal_sizes_need_equal_roots_and_an_empty_proof() -> None:
    assert verify_consistency(4, 4, ROOTS[4], ROOTS[4], [])
    assert not verify_consistency(4, 4, ROOTS[4], ROOTS[5], [])
    assert not verify_consistency(4, 4, ROOTS[4], ROOTS[4], [EMPTY_ROOT])


def test_shrinking_tree_is_not_consistent() -> None:
    assert not verify_consistency(5, 4, ROOTS[5], ROOTS[4], [N04])


def test_inclusion_outside_the_tree_does_not_verify() -> None:
    assert not verify_inclusion(LEAF_HASHES[0], 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(LEAF_HASHES[1], 1, 1, [], LEAF_HASHES[1])


def test_inclusion_proof_for_missing_leaf_is_refused() -> None:
    with pytest.raises(InvalidInput, match="leaf index 8 is outside a tree of size 8"):
        inclusion_proof(LEAF_HASHES, 8)


def test_consistency_proof_from_a_larger_tree_is_refused() -> None:
    with pytest.raises(InvalidInput, match="old tree size 9"):
        consistency_proof(LEAF_HASHES, 9)


def test_consistency_from_the_empty_tree_is_refused_as_rfc_9162_defines_none() -> None:
    with pytest.raises(InvalidInput, match="old tree size 0 must be at least 1"):
        MerkleTree(LEAF_HASHES).consistency_proof(0)


def test_tree_size_beyond_the_log_is_refused() -> None:
    with pytest.raises(InvalidInput, match="tree size 9"):
        MerkleTree(LEAF_HASHES).root(9)


def test_compact_range_resumes_from_its_hashes() -> None:
    first = CompactRange()
    first.extend(LEAF_HASHES[:5])
    resumed = CompactRange(first.size, first.hashes)
    for leaf in LEAF_HASHES[5:]:
        resumed.append(leaf)
    assert resumed.root() == ROOTS[8]


def test_compact_range_with_wrong_number_of_hashes_is_refused() -> None:
    with pytest.raises(InvalidInput, match="size 5 needs 2 hashes"):
        CompactRange(5, [N20])


def test_appending_to_a_tree_matches_building_it_at_once() -> None:
    leaves = hashes(37)
    grown = MerkleTree()
    for leaf in leaves:
        grown.append(leaf)
    assert grown.levels == MerkleTree(leaves).levels


def test_every_way_agrees_on_a_large_log() -> None:
    leaves = hashes(100_003)
    compact = CompactRange()
    compact.extend(leaves)
    assert root(leaves) == compact.root() == MerkleTree(leaves).root()


# ---- properties ----


@pytest.mark.parametrize("size", range(1, 70))
def test_proofs_match_the_rfc_definitions(size: int) -> None:
    leaves = hashes(size)
    tree = MerkleTree(leaves)
    assert tree.root() == ref_root(leaves) == root(leaves)
    assert [tree.inclusion_proof(i) for i in range(size)] == [
        ref_path(i, leaves) for i in range(size)
    ]
    assert [tree.consistency_proof(m) for m in range(1, size)] == [
        ref_subproof(m, leaves, True) for m in range(1, size)
    ]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=200))
def test_every_inclusion_proof_verifies(size: int) -> None:
    leaves = hashes(size)
    tree = MerkleTree(leaves)
    head = tree.root()
    for index in range(size):
        assert verify_inclusion(leaves[index], index, size, tree.inclusion_proof(index), head)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=200))
def test_every_consistency_proof_verifies(size: int) -> None:
    tree = MerkleTree(hashes(size))
    head = tree.root()
    for old in range(1, size + 1):
        assert verify_consistency(old, size, tree.root(old), head, tree.consistency_proof(old))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_flipped_byte_breaks_an_inclusion_proof(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=2, max_value=200))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    tree = MerkleTree(hashes(size))
    proof, head, leaf = tree.inclusion_proof(index), tree.root(), tree.levels[0][index]
    at = data.draw(st.integers(min_value=0, max_value=31))
    which = data.draw(st.integers(min_value=0, max_value=len(proof)))
    if which == len(proof):
        assert not verify_inclusion(leaf, index, size, proof, flip(head, at))
    else:
        proof[which] = flip(proof[which], at)
        assert not verify_inclusion(leaf, index, size, proof, head)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_flipped_byte_breaks_a_consistency_proof(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=2, max_value=200))
    old = data.draw(st.integers(min_value=1, max_value=size - 1))
    tree = MerkleTree(hashes(size))
    proof, r1, r2 = tree.consistency_proof(old), tree.root(old), tree.root()
    at = data.draw(st.integers(min_value=0, max_value=31))
    which = data.draw(st.sampled_from(["old", "new", *range(len(proof))]))
    if which == "old":
        r1 = flip(r1, at)
    elif which == "new":
        r2 = flip(r2, at)
    else:
        assert isinstance(which, int)
        proof[which] = flip(proof[which], at)
    assert not verify_consistency(old, size, r1, r2, proof)
