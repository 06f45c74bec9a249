"""Keyring, KEK sources and the envelope mapper, in memory."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from uuid import uuid4

import pytest

from domain.base import KeyScope
from domain.errors import DataShredded, KeyUnavailable
from ops.keys.datakeys import InMemoryDataKeyStore
from ops.keys.kek import EnvKeySource, FileKeySource, load_keks
from ops.keys.keyring import Keyring, TTLCache


def keyring(tmp_path: Path, **kwargs: float) -> Keyring:
    source = FileKeySource(tmp_path)
    for name in ("events", "director", "medical"):
        source.create(name, 1, development=True)
    return Keyring(load_keks(source, production=False), InMemoryDataKeyStore(), **kwargs)  # type: ignore[arg-type]


def test_key_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    source = FileKeySource(tmp_path / "k")
    source.create("events", 1, development=True)
    assert stat.S_IMODE(os.stat(tmp_path / "k" / "events.v1.key").st_mode) == 0o600
    with pytest.raises(KeyUnavailable, match="already exists; refusing to overwrite"):
        source.create("events", 1, development=True)


def test_one_data_key_per_scope_and_a_different_one_per_kek(tmp_path: Path) -> None:
    ring = keyring(tmp_path)
    subject = uuid4()
    first, _ = ring.encryption_key(KeyScope("events", subject))
    again, _ = ring.encryption_key(KeyScope("events", subject))
    medical, _ = ring.encryption_key(KeyScope("medical", subject))
    assert first == again and medical != first


def test_the_hot_path_does_not_unwrap_per_call(tmp_path: Path) -> None:
    ring = keyring(tmp_path)
    calls = 0
    unwrap = ring.keks.unwrap

    def counting(*args: object) -> bytes:
        nonlocal calls
        calls += 1
        return unwrap(*args)  # type: ignore[arg-type]

    ring.keks.unwrap = counting  # type: ignore[method-assign]
    key_id, _ = ring.encryption_key(KeyScope("events", uuid4()))
    for _ in range(100):
        ring.decryption_key(key_id)
    assert calls <= 2
    # A key another process stored: unwrapped once, whether first asked for by id (to
    # decrypt) or by scope (to encrypt, as a read model sealing a note does).
    for by_id_first in (True, False):
        scope = KeyScope("events", uuid4())
        stored_id, _ = keyring_sharing(ring).encryption_key(scope)
        calls = 0
        if by_id_first:
            ring.decryption_key(stored_id)
        assert ring.encryption_key(scope)[0] == stored_id
        ring.decryption_key(stored_id)
        assert calls == 1


def keyring_sharing(ring: Keyring) -> Keyring:
    """Another keyring (another process) over the same key store and KEKs."""
    return Keyring(ring.keks, ring.store)


def test_cache_is_bounded_and_entries_expire() -> None:
    cache: TTLCache[int, int] = TTLCache(maxsize=2, ttl_seconds=0.0)
    loads = []
    for key in (1, 2, 3, 1):
        cache.get_or_load(key, lambda k=key: loads.append(k) or k)  # type: ignore[misc]
    assert loads == [1, 2, 3, 1]  # ttl 0: every call reloads
    bounded: TTLCache[int, int] = TTLCache(maxsize=2, ttl_seconds=60)
    for key in (1, 2, 3):
        bounded.get_or_load(key, lambda k=key: k)  # type: ignore[misc]
    assert len(bounded._data) == 2


def test_shredding_refuses_reads_and_new_writes_for_the_subject(tmp_path: Path) -> None:
    ring = keyring(tmp_path)
    subject, other = uuid4(), uuid4()
    key_id, _ = ring.encryption_key(KeyScope("events", subject))
    ring.encryption_key(KeyScope("director", subject))
    other_id, _ = ring.encryption_key(KeyScope("events", other))
    assert ring.shred(subject, "retention ended") == 2
    with pytest.raises(DataShredded, match=str(subject)):
        ring.decryption_key(key_id)
    with pytest.raises(DataShredded):
        ring.encryption_key(KeyScope("events", subject))
    ring.decryption_key(other_id)


def test_rotation_rewraps_under_the_newest_version(tmp_path: Path) -> None:
    ring = keyring(tmp_path)
    key_id, _ = ring.encryption_key(KeyScope("events", uuid4()))
    FileKeySource(tmp_path).create("events", 2, development=True)
    rotated = Keyring(load_keks(FileKeySource(tmp_path), production=False), ring.store)
    assert rotated.rotate("events") == (2, 1)
    (tmp_path / "events.v1.key").unlink()
    fresh = Keyring(load_keks(FileKeySource(tmp_path), production=False), ring.store)
    fresh.decryption_key(key_id)
    assert fresh.status()[0].data_keys_by_version == {2: 1}


def test_production_refuses_development_keys_naming_them(tmp_path: Path) -> None:
    source = FileKeySource(tmp_path)
    for name in ("events", "director", "medical"):
        source.create(name, 1, development=True)
    with pytest.raises(KeyUnavailable, match=r"production refuses development key\(s\)"):
        load_keks(source, production=True)


def test_environment_keys_load_and_bad_ones_are_named() -> None:
    good = base64.b64encode(os.urandom(32)).decode()
    env = {f"SEQUESTER_KEK_{n}_V1": good for n in ("EVENTS", "DIRECTOR", "MEDICAL")}
    keks = load_keks(EnvKeySource(env), production=True)
    assert keks.current_version("medical") == 1 and not keks.uses_development_keys()
    env["SEQUESTER_KEK_MEDICAL_V1"] = "not base64!"
    with pytest.raises(KeyUnavailable, match="SEQUESTER_KEK_MEDICAL_V1"):
        load_keks(EnvKeySource(env), production=True)


def test_corrupt_key_file_is_named(tmp_path: Path) -> None:
    source = FileKeySource(tmp_path)
    for name in ("events", "director", "medical"):
        source.create(name, 1, development=True)
    (tmp_path / "director.v1.key").write_text("{not json")
    with pytest.raises(KeyUnavailable, match="director.v1.key is unreadable or corrupt"):
        load_keks(source, production=False)
