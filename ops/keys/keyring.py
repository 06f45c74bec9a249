"""The keyring: finds, creates, unwraps, rotates and shreds data keys.

Unwrapped data keys live only in a bounded, time-limited in-memory cache so that
the hot path never unwraps per event. The time limit bounds how long another process
can keep reading a subject after `keys shred` in this one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.base import KEK_MEDICAL, KEK_NAMES, KeyScope
from domain.errors import DataShredded, KeyUnavailable
from ops.keys.datakeys import DataKeyRecord, DataKeyStore, data_key_id
from ops.keys.kek import KEY_BYTES, KeyEncryptionKeys

#: The key that blinds medical scopes (`Keyring.stored_scope`), itself a medical data key.
BLINDING_SUBJECT = uuid5(NAMESPACE_URL, "urn:sequester:medical-blinding-key")
BLINDING_SCOPE = KeyScope(KEK_MEDICAL, BLINDING_SUBJECT)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
log = structlog.get_logger("sequester.keys")


def constant(value: V) -> Callable[[], V]:
    """A loader of a value already at hand."""
    return lambda: value


class TTLCache(Generic[K, V]):
    """A small thread-safe LRU cache whose entries also expire."""

    def __init__(self, maxsize: int, ttl_seconds: float) -> None:
        self.maxsize, self.ttl = maxsize, ttl_seconds
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > now:
                self._data.move_to_end(key)
                return hit[1]
        value = load()
        with self._lock:
            self._data[key] = (now + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        with self._lock:
            for key in [k for k in self._data if predicate(k)]:
                del self._data[key]


class _NoKey(Exception):
    """No data key exists yet for a scope (internal: nothing is cached for it)."""


@dataclass
class PendingKeys:
    """Data keys created during one save: written in the events' own transaction."""

    store: DataKeyStore
    keys: dict[KeyScope, tuple[DataKeyRecord, AESGCM]] = field(default_factory=dict)
    written: bool = False
    #: every scope resolved during this save (new or existing): one look-up per scope
    resolved: dict[KeyScope, tuple[UUID, AESGCM]] = field(default_factory=dict)

    def write(self, cursor: object) -> None:
        """Called by the recorder inside the events' transaction (every attempt)."""
        if self.keys:
            self.store.insert_with(cursor, [record for record, _ in self.keys.values()])
        self.written = True


_pending: ContextVar[PendingKeys | None] = ContextVar("pending_data_keys", default=None)


def write_pending_keys(cursor: object) -> None:
    pending = _pending.get()
    if pending is not None:
        pending.write(cursor)


def wrapping_aad(key_id: UUID, kek: str, subject_id: UUID) -> bytes:
    """Binds a wrapped data key to its row: a wrapped key moved to another row fails."""
    return b"sequester-dk1|" + key_id.bytes + kek.encode() + b"|" + subject_id.bytes


@dataclass(frozen=True)
class KekStatus:
    name: str
    versions: list[int]
    current: int
    data_keys_by_version: dict[int, int]


class Keyring:
    def __init__(
        self,
        keks: KeyEncryptionKeys,
        store: DataKeyStore,
        *,
        cache_size: int = 10_000,
        cache_ttl_seconds: float = 300.0,
    ) -> None:
        self.keks = keks
        self.store = store
        self._by_scope: TTLCache[KeyScope, tuple[UUID, AESGCM]] = TTLCache(
            cache_size, cache_ttl_seconds
        )
        self._by_id: TTLCache[bytes, AESGCM] = TTLCache(cache_size, cache_ttl_seconds)
        self._cache_size, self._ttl = cache_size, cache_ttl_seconds
        self._warm: dict[UUID, DataKeyRecord] = {}
        self._warm_scopes: dict[KeyScope, DataKeyRecord] = {}
        self._warmed_at: float | None = None
        self.reserved_subjects: set[UUID] = {BLINDING_SUBJECT}
        self._blinding: bytes | None = None

    # -- the hot path -------------------------------------------------------------
    def encryption_key(self, scope: KeyScope, *, new_subject: bool = False) -> tuple[UUID, AESGCM]:
        """The data key for a scope, created on first use (a medical scope under its
        blinded subject, see `stored_scope`).

        Inside `unit_of_work()` a new key is only *pending*: it is written in the same
        transaction as the events it encrypts and cached only once that commits.
        `new_subject` says the subject is being created by this very save, so no key
        can exist yet and the look-up is skipped (were that ever wrong, the key table's
        unique index fails the save as a conflict: nothing is stored under a lost key).
        """
        scope = self.stored_scope(scope)
        pending = _pending.get()
        if pending is None:
            return self._resolve(scope, new_subject=False, pending=None)
        resolved = pending.resolved.get(scope)
        if resolved is None:
            resolved = pending.resolved[scope] = self._resolve(scope, new_subject, pending)
        return resolved

    def _resolve(
        self, scope: KeyScope, new_subject: bool, pending: PendingKeys | None
    ) -> tuple[UUID, AESGCM]:
        if not (new_subject and pending is not None):
            try:
                return self._by_scope.get_or_load(scope, lambda: self._load_existing(scope))
            except _NoKey:
                pass
        record, plaintext = self._new_record(scope)
        if pending is None:
            stored = self.store.insert(record)
            return stored.key_id, AESGCM(self._unwrap(stored))
        pending.keys[scope] = (record, AESGCM(plaintext))
        return record.key_id, pending.keys[scope][1]

    def stored_scope(self, scope: KeyScope) -> KeyScope:
        """The scope a data key is stored under. A medical key is filed under a keyed hash
        of its subject (the staff member), not the staff member's public id: a database
        reader without keys cannot tell whose accommodation file a key or a row is."""
        if scope.kek != KEK_MEDICAL or scope.subject_id in self.reserved_subjects:
            return scope
        if self._blinding is None:
            self._blinding = self.secret(BLINDING_SCOPE)
        digest = hmac.new(self._blinding, b"medical|" + scope.subject_id.bytes, hashlib.sha256)
        return KeyScope(KEK_MEDICAL, UUID(bytes=digest.digest()[:16], version=4))

    def secret(self, scope: KeyScope) -> bytes:
        """The raw bytes of a scope's data key (for keyed hashes), created if missing."""
        record = self.store.find(scope.kek, scope.subject_id)
        if record is None:
            record = self.store.insert(self._new_record(scope)[0])
        return self._unwrap(record)

    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """Collect keys created during a save; cache them only if the save commits."""
        if _pending.get() is not None:
            yield
            return
        pending = PendingKeys(self.store)
        token = _pending.set(pending)
        try:
            yield
        finally:
            _pending.reset(token)
        if pending.keys and not pending.written:  # a recorder without the hook (in memory)
            for record, _ in pending.keys.values():
                self.store.insert(record)
        for scope, (record, key) in pending.keys.items():
            self._by_scope.get_or_load(scope, constant((record.key_id, key)))
            self._by_id.get_or_load(record.key_id.bytes, constant(key))
            log.debug("data_key.created", kek=scope.kek, subject_id=str(scope.subject_id),
                     key_id=str(record.key_id), kek_version=record.kek_version)

    def decryption_key(self, key_id: UUID) -> AESGCM:
        return self._by_id.get_or_load(key_id.bytes, lambda: self._unwrap_by_id(key_id))

    def decryption_key_for(self, raw_key_id: bytes) -> AESGCM:
        """The hot path: keyed by the 16 id bytes of a ciphertext header."""
        return self._by_id.get_or_load(
            raw_key_id, lambda: self._unwrap_by_id(UUID(bytes=raw_key_id))
        )

    def _load_existing(self, scope: KeyScope) -> tuple[UUID, AESGCM]:
        warm = self._warm_scopes.get(scope) if self._is_warm() else None
        record = warm or self.store.find(scope.kek, scope.subject_id)
        if record is None:
            raise _NoKey
        key = AESGCM(self._unwrap_fresh(record, warm is not None))
        self._by_id.get_or_load(record.key_id.bytes, lambda: key)  # one unwrap serves both
        return record.key_id, key

    def _is_warm(self) -> bool:
        return self._warmed_at is not None and time.monotonic() - self._warmed_at < self._ttl

    def _warm_up(self) -> None:
        """One query for up to `cache_size` wrapped keys, instead of one per subject.
        The wrapped copies expire with the cache (a shred or rotation elsewhere shows)."""
        records = self.store.live(limit=self._cache_size)
        self._warm = {r.key_id: r for r in records}
        self._warm_scopes = {KeyScope(r.kek, r.subject_id): r for r in records}
        self._warmed_at = time.monotonic()

    def _unwrap_fresh(self, record: DataKeyRecord, from_warm: bool) -> bytes:
        """Unwrap; a warmed copy that no longer unwraps is re-read from the store."""
        try:
            return self._unwrap(record)
        except KeyUnavailable:
            if not from_warm:
                raise
            fresh = self.store.get(record.key_id)
            if fresh is None:
                raise
            return self._unwrap(fresh)

    def _new_record(self, scope: KeyScope) -> tuple[DataKeyRecord, bytes]:
        key_id = data_key_id(scope.kek, scope.subject_id)
        plaintext = secrets.token_bytes(KEY_BYTES)
        version, wrapped = self.keks.wrap(
            scope.kek, plaintext, wrapping_aad(key_id, scope.kek, scope.subject_id)
        )
        record = DataKeyRecord(
            key_id, scope.kek, version, scope.subject_id, wrapped, datetime.now(UTC)
        )
        return record, plaintext

    def _unwrap_by_id(self, key_id: UUID) -> AESGCM:
        if not self._is_warm():
            self._warm_up()
        warm = self._warm.get(key_id)
        record = warm or self.store.get(key_id)
        if record is None:
            raise KeyUnavailable(f"data key {key_id} is not in the key table")
        key = AESGCM(self._unwrap_fresh(record, warm is not None))
        scope = KeyScope(record.kek, record.subject_id)
        self._by_scope.get_or_load(scope, lambda: (record.key_id, key))  # one key per scope
        return key

    def _unwrap(self, record: DataKeyRecord) -> bytes:
        if record.wrapped is None:
            raise DataShredded(
                f"data subject {record.subject_id} was shredded on "
                f"{record.shredded_at:%Y-%m-%d}: its records can no longer be read or written"
                if record.shredded_at
                else f"data subject {record.subject_id} was shredded"
            )
        aad = wrapping_aad(record.key_id, record.kek, record.subject_id)
        return self.keks.unwrap(record.kek, record.kek_version, record.wrapped, aad)

    # -- operations ---------------------------------------------------------------
    def verify(self) -> None:
        """At start-up: every KEK version that wraps data keys is present and correct."""
        for name in KEK_NAMES:
            self.keks.current_version(name)
            checked: set[int] = set()
            for record in self.store.for_kek(name):
                if record.wrapped is not None and record.kek_version not in checked:
                    self._unwrap(record)
                    checked.add(record.kek_version)

    def rotate(self, name: str) -> tuple[int, int]:
        """Rewrap every data key of a KEK under its current version; return (version, count)."""
        version = self.keks.current_version(name)
        count = 0
        for record in self.store.for_kek(name):
            if record.wrapped is None or record.kek_version == version:
                continue
            plaintext = self._unwrap(record)
            aad = wrapping_aad(record.key_id, record.kek, record.subject_id)
            new_version, wrapped = self.keks.wrap(name, plaintext, aad)
            self.store.rewrap(record.key_id, new_version, wrapped)
            count += 1
        self._warmed_at = None
        log.info("kek.rotated", kek=name, version=version, rewrapped=count)
        return version, count

    def shred(self, subject_id: UUID, reason: str) -> int:
        if not reason.strip():
            raise KeyUnavailable("shredding needs a reason")
        if subject_id in self.reserved_subjects:
            raise KeyUnavailable(f"{subject_id} holds a system key and cannot be shredded")
        blinded = self.stored_scope(KeyScope(KEK_MEDICAL, subject_id)).subject_id
        ids = set(self.store.shred(subject_id, reason, datetime.now(UTC)))
        ids |= set(self.store.shred(blinded, reason, datetime.now(UTC)))
        self._warmed_at = None
        self._by_scope.discard_where(lambda scope: scope.subject_id in (subject_id, blinded))
        raw_ids = {key_id.bytes for key_id in ids}
        self._by_id.discard_where(lambda raw: raw in raw_ids)
        log.warning("subject.shredded", subject_id=str(subject_id), data_keys=len(ids))
        return len(ids)

    def status(self) -> list[KekStatus]:
        counts = self.store.counts()
        return [
            KekStatus(
                name,
                self.keks.versions(name),
                self.keks.current_version(name),
                {v: n for (k, v), n in sorted(counts.items()) if k == name},
            )
            for name in KEK_NAMES
        ]
