"""Sealing read-model values under the data subject's own data key.

A chart note copied into a read model would escape crypto-shredding; sealed under the
subject's `events` data key it becomes unreadable exactly when the subject's events do.
Sealed = 0x01 ‖ data key id (16) ‖ nonce (12) ‖ AES-256-GCM(plaintext, aad = header ‖ aad).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag

from domain.base import KEK_EVENTS, KeyScope
from domain.errors import DataShredded, TamperDetected

Seal = Callable[[UUID, bytes, bytes], bytes]
Unseal = Callable[[bytes, bytes], bytes]
#: (subject id, plaintext, aad) for each value → sealed values, None where shredded.
SealMany = Callable[[Sequence[tuple[UUID, bytes, bytes]]], list[bytes | None]]

SEALED_V1 = b"\x01"
HEADER_BYTES = 1 + 16
NONCE_BYTES = 12


class KeyringSealer:
    """`seal`/`unseal` over a keyring: `encryption_key(KeyScope)` → (key id, AESGCM) and
    `decryption_key(key id)` → AESGCM (raising `DataShredded` once shredded)."""

    def __init__(self, keyring: Any, kek: str = KEK_EVENTS) -> None:
        self.keyring = keyring
        self.kek = kek

    def seal(self, subject_id: UUID, plaintext: bytes, aad: bytes) -> bytes:
        header, key = self._header_and_key(subject_id)
        return _sealed(header, key, os.urandom(NONCE_BYTES), plaintext, aad)

    def seal_many(self, requests: Sequence[tuple[UUID, bytes, bytes]]) -> list[bytes | None]:
        """`seal` for a batch, each value exactly as `seal` makes it, but each subject's
        key is looked up once and every nonce comes from one `os.urandom` call. None
        where the subject's key is shredded (where `seal` raises `DataShredded`)."""
        keys: dict[UUID, tuple[bytes, Any] | None] = {}
        nonces = os.urandom(NONCE_BYTES * len(requests))
        sealed: list[bytes | None] = []
        for i, (subject_id, plaintext, aad) in enumerate(requests):
            if subject_id not in keys:
                try:
                    keys[subject_id] = self._header_and_key(subject_id)
                except DataShredded:
                    keys[subject_id] = None
            found = keys[subject_id]
            if found is None:
                sealed.append(None)
                continue
            header, key = found
            nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
            sealed.append(_sealed(header, key, nonce, plaintext, aad))
        return sealed

    def _header_and_key(self, subject_id: UUID) -> tuple[bytes, Any]:
        key_id, key = self.keyring.encryption_key(KeyScope(self.kek, subject_id))
        return SEALED_V1 + key_id.bytes, key

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < HEADER_BYTES + NONCE_BYTES + 16 or sealed[:1] != SEALED_V1:
            raise TamperDetected("a sealed read-model value is malformed")
        header = sealed[:HEADER_BYTES]
        key = self.keyring.decryption_key(UUID(bytes=header[1:]))
        nonce = sealed[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            plaintext: bytes = key.decrypt(
                nonce, sealed[HEADER_BYTES + NONCE_BYTES :], header + aad
            )
        except InvalidTag:
            raise TamperDetected(
                "a sealed read-model value failed authentication: altered or moved"
            ) from None
        return plaintext


def _sealed(header: bytes, key: Any, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    sealed: bytes = header + nonce + key.encrypt(nonce, plaintext, header + aad)
    return sealed


def batch_sealer(seal: Seal) -> SealMany:
    """The batch form of `seal`: a `KeyringSealer`'s own `seal_many` when `seal` is its
    bound `seal`, else `seal` called value by value (None where it raises
    `DataShredded`)."""
    owner = getattr(seal, "__self__", None)
    if isinstance(owner, KeyringSealer) and seal == owner.seal:
        return owner.seal_many

    def one_by_one(requests: Sequence[tuple[UUID, bytes, bytes]]) -> list[bytes | None]:
        sealed: list[bytes | None] = []
        for subject_id, plaintext, aad in requests:
            try:
                sealed.append(seal(subject_id, plaintext, aad))
            except DataShredded:
                sealed.append(None)
        return sealed

    return one_by_one
