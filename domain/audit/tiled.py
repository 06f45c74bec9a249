"""The tree hashes of a stored log, read through its leaves: tiles, roots and proofs
without holding the whole log in memory. Pure: the leaves come from a reader.

A hash at level L ≥ 1 (the MTH of 256^L aligned leaves) never changes once its
leaves exist, so each one is computed once and remembered: 1/256 of a hash per leaf,
about 0.4 bytes per leaf. A tile, a root or a proof then reads at most a few hundred
leaf hashes and hashes a few thousand nodes, whatever the size of the log.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.audit.merkle import TreeProofs, root
from domain.audit.tiles import TILE_HEIGHT, TILE_WIDTH, Tile, hashes_at
from domain.errors import NotFound, TamperDetected

#: Reads the leaf hashes at indexes [start, end), in order (fewer if some are missing).
LeafReader = Callable[[int, int], list[bytes]]


class TileHashes:
    """Every level's hashes of one stored log; higher levels remembered."""

    def __init__(self, read_leaves: LeafReader) -> None:
        self.read_leaves = read_leaves
        self._levels: dict[int, dict[int, bytes]] = {}

    def hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """Hashes [start, end) of `level`, every one complete (all its leaves stored)."""
        if level == 0:
            leaves = self.read_leaves(start, end)
            if len(leaves) != end - start:
                raise TamperDetected(
                    f"the Merkle leaf table holds {len(leaves)} of the leaves {start} to "
                    f"{end - 1}: it was edited (run sequester audit verify)")
            return leaves
        known = self._levels.setdefault(level, {})
        missing = [i for i in range(start, end) if i not in known]
        if missing:
            lo, hi = missing[0], missing[-1] + 1
            below = self.hashes(level - 1, lo * TILE_WIDTH, hi * TILE_WIDTH)
            for i in range(lo, hi):
                offset = (i - lo) * TILE_WIDTH
                known.setdefault(i, root(below[offset : offset + TILE_WIDTH]))
        return [known[i] for i in range(start, end)]

    def tile(self, tile: Tile, size: int) -> bytes:
        """The tile's bytes in a log of `size` leaves."""
        if tile.end > hashes_at(size, tile.level):
            have = max(0, hashes_at(size, tile.level) - tile.start)
            raise NotFound(
                f"tile {tile.path()} needs {tile.width} hashes at level {tile.level}, and the "
                f"log of {size} leaves has {min(have, TILE_WIDTH)} there")
        return b"".join(self.hashes(tile.level, tile.start, tile.end))

    def tree(self, size: int) -> TiledTree:
        return TiledTree(self, size)


class TiledTree(TreeProofs):
    """The tree of the first `size` leaves, its subtree hashes from `TileHashes`. The
    leaves of a level-0 tile are read once per tree: the subtrees of height < 8 that a
    proof needs lie within one or two tiles."""

    def __init__(self, hashes: TileHashes, size: int) -> None:
        self.hashes, self.size = hashes, size
        self._leaf_tiles: dict[int, list[bytes]] = {}

    def __len__(self) -> int:
        return self.size

    def perfect(self, height: int, index: int) -> bytes:
        level, below = divmod(height, TILE_HEIGHT)
        count = 1 << below
        start = index * count
        if level:
            return root(self.hashes.hashes(level, start, start + count))
        tile, offset = divmod(start, TILE_WIDTH)
        if tile not in self._leaf_tiles:
            first = tile * TILE_WIDTH
            self._leaf_tiles[tile] = self.hashes.hashes(0, first, min(first + TILE_WIDTH, self.size))
        return root(self._leaf_tiles[tile][offset : offset + count])
