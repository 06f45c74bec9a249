"""Sealing read-model values under the data subject's own data key.

A chart note copied into a read model would escape crypto-shredding; sealed under the
subject's `events` data key it becomes unreadable exactly when the subject's events do.
Sealed = 0x01 ‖ data key id (16) ‖ nonce (12) ‖ AES-256-GCM(plaintext, aad = header ‖ aad).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag

from domain.base import KEK_EVENTS, KeyScope
from domain.errors import TamperDetected

Seal = Callable[[UUID, bytes, bytes], bytes]
Unseal = Callable[[bytes, bytes], bytes]

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
        key_id, key = self.keyring.encryption_key(KeyScope(self.kek, subject_id))
        header = SEALED_V1 + key_id.bytes
        nonce = os.urandom(NONCE_BYTES)
        sealed: bytes = header + nonce + key.encrypt(nonce, plaintext, header + aad)
        return sealed

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
