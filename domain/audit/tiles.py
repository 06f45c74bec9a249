"""C2SP tlog-tiles: which hash tiles a tree of a given size has, their paths, and how
the hashes of one level follow from the level below. Pure: hashlib only.

A tile is 256 consecutive hashes of one level ("height 8", as Go's
`golang.org/x/mod/sumdb/tlog` with `H = 8`): level 0 holds leaf hashes, and hash `i`
of level `L` is the Merkle Tree Hash of leaves [i·256^L, (i+1)·256^L). A tree of size
`s` has `s // 256^L` hashes at level `L`; the last tile of a level holds the
remainder, `(s // 256^L) % 256` of them, and is "partial" (`.p/<W>` in its path).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from domain.audit.merkle import HASH_SIZE, root
from domain.errors import InvalidInput

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")


@dataclass(frozen=True, order=True)
class Tile:
    """Tile `index` of `level`, holding `width` hashes (256: a full tile)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise InvalidInput(f"a tile level is from 0 to {MAX_LEVEL}, not {self.level}")
        if self.index < 0:
            raise InvalidInput(f"a tile index cannot be negative (got {self.index})")
        if not 1 <= self.width <= TILE_WIDTH:
            raise InvalidInput(f"a tile holds 1 to {TILE_WIDTH} hashes, not {self.width}")

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def start(self) -> int:
        """The position of its first hash within its level."""
        return self.index * TILE_WIDTH

    @property
    def end(self) -> int:
        return self.start + self.width

    def path(self) -> str:
        """`tile/<L>/<N>[.p/<W>]`, N in 3-digit elements, all but the last `x`-prefixed."""
        suffix = f".p/{self.width}" if self.partial else ""
        return f"tile/{self.level}/{encode_index(self.index)}{suffix}"

    def full(self) -> Tile:
        return Tile(self.level, self.index)

    def children(self) -> list[Tile]:
        """The full tiles of the level below whose hashes this tile's hashes are."""
        if self.level == 0:
            return []
        return [Tile(self.level - 1, self.start + i) for i in range(self.width)]


def encode_index(index: int) -> str:
    """1234067 → `x001/x234/067`."""
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(level: str, index_path: str) -> Tile:
    """The tile that `tile/<level>/<index_path>` names, in canonical form only (so that
    one tile has one URL, and caches hold one copy)."""
    if not _LEVEL.fullmatch(level) or int(level) > MAX_LEVEL:
        raise InvalidInput(f"a tile level is a number from 0 to {MAX_LEVEL} without leading zeros")
    index_part, partial, width = index_path.partition(".p/")
    if partial and (not _WIDTH.fullmatch(width) or int(width) >= TILE_WIDTH):
        raise InvalidInput(f"a partial tile's width is a number from 1 to {TILE_WIDTH - 1} "
                           "without leading zeros")
    *groups, last = index_part.split("/")
    if not _LAST.fullmatch(last) or not all(_GROUP.fullmatch(g) for g in groups):
        raise InvalidInput("a tile index is 3-digit path elements, all but the last starting "
                           "with 'x' (for example x001/x234/067)")
    if groups and groups[0] == "x000":
        raise InvalidInput("a tile index has no leading x000 elements")
    index = int("".join(g[1:] for g in groups) + last)
    return Tile(int(level), index, int(width) if partial else TILE_WIDTH)


def hashes_at(size: int, level: int) -> int:
    """How many hashes level `level` holds in a tree of `size` leaves."""
    return size >> (TILE_HEIGHT * level)


def tile_width(size: int, level: int, index: int) -> int:
    """How many hashes tile `index` of `level` holds in a tree of `size` (0: none yet)."""
    return max(0, min(TILE_WIDTH, hashes_at(size, level) - index * TILE_WIDTH))


def tiles_for(size: int) -> list[Tile]:
    """Every tile of a tree of `size` leaves, level by level: its full tiles, then its
    partial tile if any. (Level `L` exists while the tree has 256^L leaves.)"""
    tiles: list[Tile] = []
    level = 0
    while count := hashes_at(size, level):
        full, rest = divmod(count, TILE_WIDTH)
        tiles.extend(Tile(level, i) for i in range(full))
        if rest:
            tiles.append(Tile(level, full, rest))
        level += 1
    return tiles


def split_hashes(data: bytes) -> list[bytes]:
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def tile_mismatch(tiles: Mapping[Tile, bytes]) -> str | None:
    """For a client holding tiles: the first hash of a level ≥ 1 tile that is not the
    hash of the full tile below it (or the first tile of the wrong length); None if
    every given tile agrees with the ones below it."""
    for tile in sorted(tiles):
        data = tiles[tile]
        if len(data) != tile.width * HASH_SIZE:
            return f"tile {tile.path()} has {len(data)} bytes, not {tile.width * HASH_SIZE}"
        for i, child in enumerate(tile.children()):
            below = tiles.get(child)
            if below is None:
                return f"tile {child.path()}, below tile {tile.path()}, is missing"
            if root(split_hashes(below)) != data[i * HASH_SIZE : (i + 1) * HASH_SIZE]:
                return f"hash {i} of tile {tile.path()} is not the hash of tile {child.path()}"
    return None
