"""C2SP tlog-tiles addressing at the edges, and the tiled tree against the in-memory one."""

from __future__ import annotations

import pytest

from domain.audit.merkle import MerkleTree, leaf_hash
from domain.audit.tiled import TileHashes
from domain.audit.tiles import (
    Tile,
    encode_index,
    parse_tile_path,
    tile_mismatch,
    tile_width,
    tiles_for,
)
from domain.errors import InvalidInput, NotFound, TamperDetected


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def full(level: int, count: int) -> list[Tile]:
    return [Tile(level, i) for i in range(count)]


@pytest.mark.parametrize(("size", "expected"), [
    (0, []),
    (1, [Tile(0, 0, 1)]),
    (255, [Tile(0, 0, 255)]),
    (256, [Tile(0, 0), Tile(1, 0, 1)]),
    (257, [Tile(0, 0), Tile(0, 1, 1), Tile(1, 0, 1)]),
    (65_536, [*full(0, 256), Tile(1, 0), Tile(2, 0, 1)]),
    (65_537, [*full(0, 256), Tile(0, 256, 1), Tile(1, 0), Tile(2, 0, 1)]),
])  # fmt: skip
def test_the_tiles_of_a_tree_at_the_edges(size: int, expected: list[Tile]) -> None:
    assert tiles_for(size) == expected


def test_the_specs_example_of_a_tree_of_70000() -> None:
    tiles = tiles_for(70_000)
    assert tiles == [*full(0, 273), Tile(0, 273, 112), Tile(1, 0), Tile(1, 1, 17), Tile(2, 0, 1)]


@pytest.mark.parametrize(("size", "level", "index", "width"), [
    (0, 0, 0, 0), (1, 0, 0, 1), (255, 0, 0, 255), (255, 1, 0, 0), (256, 0, 0, 256),
    (256, 0, 1, 0), (256, 1, 0, 1), (257, 0, 1, 1), (65_536, 0, 255, 256),
    (65_536, 0, 256, 0), (65_536, 1, 0, 256), (65_536, 2, 0, 1), (65_537, 0, 256, 1),
    (65_537, 1, 1, 0), (65_537, 3, 0, 0),
])  # fmt: skip
def test_tile_widths_at_the_edges(size: int, level: int, index: int, width: int) -> None:
    assert tile_width(size, level, index) == width


@pytest.mark.parametrize(("tile", "path"), [
    (Tile(0, 0, 1), "tile/0/000.p/1"),
    (Tile(0, 255), "tile/0/255"),
    (Tile(0, 256, 1), "tile/0/256.p/1"),
    (Tile(1, 0, 255), "tile/1/000.p/255"),
    (Tile(2, 1000), "tile/2/x001/000"),
    (Tile(0, 1_234_067, 5), "tile/0/x001/x234/067.p/5"),
    (Tile(63, 10**9), "tile/63/x001/x000/x000/000"),
])  # fmt: skip
def test_paths_are_the_specs_and_parse_back(tile: Tile, path: str) -> None:
    assert tile.path() == path
    _, level, index_path = path.split("/", 2)
    assert parse_tile_path(level, index_path) == tile


@pytest.mark.parametrize(("level", "index_path", "problem"), [
    ("00", "000", "without leading zeros"),
    ("64", "000", "from 0 to 63"),
    ("-1", "000", "from 0 to 63"),
    ("0", "1", "3-digit path elements"),
    ("0", "0001", "3-digit path elements"),
    ("0", "001/002", "3-digit path elements"),
    ("0", "x001", "3-digit path elements"),
    ("0", "x000/001", "no leading x000"),
    ("0", "000.p/0", "from 1 to 255"),
    ("0", "000.p/256", "from 1 to 255"),
    ("0", "000.p/010", "from 1 to 255"),
    ("0", "000.p/", "from 1 to 255"),
    ("0", "../000", "3-digit path elements"),
])  # fmt: skip
def test_malformed_tile_paths_are_refused_naming_the_part(
    level: str, index_path: str, problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        parse_tile_path(level, index_path)


def test_index_encoding_groups_by_thousands() -> None:
    assert [encode_index(n) for n in (0, 7, 999, 1000, 1001, 999_999, 1_000_000)] == [
        "000", "007", "999", "x001/000", "x001/001", "x999/999", "x001/x000/000"]


@pytest.fixture(scope="module")
def log() -> tuple[list[bytes], MerkleTree]:
    hashes = leaves(70_000)
    return hashes, MerkleTree(hashes)


def reader(hashes: list[bytes], reads: list[int] | None = None):  # type: ignore[no-untyped-def]
    def read(start: int, end: int) -> list[bytes]:
        if reads is not None:
            reads.append(end - start)
        return hashes[start:end]

    return read


@pytest.mark.parametrize("size", [1, 255, 256, 257, 65_536, 65_537, 70_000])
def test_every_tile_holds_the_trees_hashes_at_its_level(
    size: int, log: tuple[list[bytes], MerkleTree]
) -> None:
    hashes, tree = log
    source = TileHashes(reader(hashes[:size]))
    served = {t: source.tile(t, size) for t in tiles_for(size)}
    for tile, data in served.items():
        level = tree.levels[8 * tile.level]
        assert data == b"".join(level[tile.start : tile.end]), tile.path()
    assert tile_mismatch(served) is None


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 65_536, 65_537, 70_000])
def test_the_tiled_tree_gives_the_same_roots_and_proofs(
    size: int, log: tuple[list[bytes], MerkleTree]
) -> None:
    hashes, tree = log
    tiled = TileHashes(reader(hashes)).tree(size)
    assert tiled.root() == tree.root(size)
    for index in {0, size // 3, size - 1}:
        assert tiled.inclusion_proof(index) == tree.inclusion_proof(index, size)
    for old in {1, size // 2 or 1, size - 1 or 1, size}:
        assert tiled.consistency_proof(old) == tree.consistency_proof(old, size)


def test_higher_levels_are_computed_once(log: tuple[list[bytes], MerkleTree]) -> None:
    hashes, _ = log
    reads: list[int] = []
    source = TileHashes(reader(hashes, reads))
    first = source.tile(Tile(2, 0, 1), 70_000)
    assert sum(reads) == 65_536
    assert source.tile(Tile(2, 0, 1), 70_000) == first and source.tile(Tile(1, 0), 70_000)
    assert sum(reads) == 65_536  # nothing read again


def test_a_changed_leaf_shows_in_the_level_above(log: tuple[list[bytes], MerkleTree]) -> None:
    hashes, _ = log
    source = TileHashes(reader(hashes))
    served = {t: source.tile(t, 512) for t in tiles_for(512)}
    edited = bytearray(served[Tile(0, 1)])
    edited[40] ^= 1
    served[Tile(0, 1)] = bytes(edited)
    assert tile_mismatch(served) == "hash 1 of tile tile/1/000.p/2 is not the hash of tile tile/0/001"
    served[Tile(0, 1)] = served[Tile(0, 1)][:-32]
    assert tile_mismatch(served) == "tile tile/0/001 has 8160 bytes, not 8192"


def test_a_tile_the_log_does_not_have_yet_is_not_found(log: tuple[list[bytes], MerkleTree]) -> None:
    source = TileHashes(reader(log[0][:300]))
    with pytest.raises(NotFound, match="log of 300 leaves has 44 there"):
        source.tile(Tile(0, 1, 45), 300)
    with pytest.raises(NotFound, match="has 1 there"):
        source.tile(Tile(1, 0), 300)
    with pytest.raises(NotFound, match="has 0 there"):
        source.tile(Tile(2, 0, 1), 300)


def test_missing_leaves_below_the_size_are_tampering(log: tuple[list[bytes], MerkleTree]) -> None:
    gap = log[0][:10] + log[0][11:300]
    source = TileHashes(lambda start, end: [h for i, h in enumerate(gap) if start <= i < end][:-1])
    with pytest.raises(TamperDetected, match="holds 255 of the leaves 0 to 255"):
        source.tile(Tile(0, 0), 300)
