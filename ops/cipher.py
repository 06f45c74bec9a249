"""Envelope encryption of stored events, through the library's `Mapper` extension point.

Stored state = 0x01 ‖ data key id (16) ‖ nonce (12) ‖ AES-256-GCM(ciphertext ‖ tag).
The associated data binds the ciphertext to the header and to the event's identity
(originator id, version, topic): a payload copied into another row does not decrypt.
"""

from __future__ import annotations

import os

from uuid import UUID

import structlog
from cryptography.exceptions import InvalidTag
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic

from domain.base import key_scope_of
from domain.errors import DataShredded, KeyUnavailable, TamperDetected
from ops.keys.keyring import Keyring

FORMAT_V1 = b"\x01"
log = structlog.get_logger("sequester.cipher")
HEADER_BYTES = 1 + 16
NONCE_BYTES = 12


def event_aad(header: bytes, originator_id: UUID | str, version: int, topic: str) -> bytes:
    oid = originator_id.bytes if isinstance(originator_id, UUID) else str(originator_id).encode()
    return header + oid + version.to_bytes(8, "big", signed=True) + topic.encode()


def describe(stored: StoredEvent) -> str:
    return f"event {stored.originator_id} version {stored.originator_version}"


class EnvelopeMapper(Mapper[UUID]):
    """Encrypts each event under its data subject's data key."""

    def __init__(self, transcoder: Transcoder, keyring: Keyring) -> None:
        super().__init__(transcoder=transcoder)
        self.keyring = keyring

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        scope = key_scope_of(domain_event.originator_id)
        if scope is None:
            raise KeyUnavailable(
                f"no data subject is bound for aggregate {domain_event.originator_id}; "
                "events are saved through ContextApplication.commit()"
            )
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        topic = get_topic(type(domain_event))
        new_subject = originator_version == 1 and scope.subject_id == originator_id
        key_id, key = self.keyring.encryption_key(scope, new_subject=new_subject)
        header = FORMAT_V1 + key_id.bytes
        nonce = os.urandom(NONCE_BYTES)
        sealed = key.encrypt(
            nonce,
            self.transcoder.encode(state),
            event_aad(header, originator_id, originator_version, topic),
        )
        return StoredEvent(originator_id, originator_version, topic, header + nonce + sealed)

    def decrypt(self, stored: StoredEvent) -> bytes:
        """The plaintext state of a stored event, or an error naming the event."""
        data = stored.state
        if len(data) < HEADER_BYTES + NONCE_BYTES + 16 or data[:1] != FORMAT_V1:
            raise TamperDetected(f"{describe(stored)} is not a sequester ciphertext")
        header = data[:HEADER_BYTES]
        try:
            key = self.keyring.decryption_key_for(header[1:])
        except DataShredded as e:
            raise DataShredded(f"{describe(stored)} cannot be read: {e.detail}") from None
        except KeyUnavailable as e:
            raise KeyUnavailable(f"{describe(stored)} cannot be read: {e.detail}") from None
        nonce = data[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        aad = event_aad(header, stored.originator_id, stored.originator_version, stored.topic)
        try:
            return key.decrypt(nonce, data[HEADER_BYTES + NONCE_BYTES :], aad)
        except InvalidTag:
            log.error(
                "event.tamper_detected",
                originator_id=str(stored.originator_id),
                originator_version=stored.originator_version,
            )
            raise TamperDetected(
                f"{describe(stored)} failed authentication: it was altered or moved from "
                "another row"
            ) from None

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        plain = StoredEvent(
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.topic,
            self.decrypt(stored_event),
        )
        return super().to_domain_event(plain)

    def __repr__(self) -> str:
        return f"EnvelopeMapper(keyring={type(self.keyring).__name__})"


