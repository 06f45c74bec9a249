"""Envelope encryption of stored events, through the library's `Mapper` extension point.

Stored state = 0x01 ‖ data key id (16) ‖ nonce (12) ‖ AES-256-GCM(ciphertext ‖ tag).
The associated data binds the ciphertext to the header and to the event's identity
(originator id, version, topic): a payload copied into another row does not decrypt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, SafeUUID

import structlog
from cryptography.exceptions import InvalidTag
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    Mapper,
    StoredEvent,
    Transcoder,
    Transcoding,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic
from pydantic_core import from_json

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
        self._batch_decoder = BatchDecoder(self)

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

    def decrypt(self, stored: StoredEvent, keys: dict[bytes, Any] | None = None) -> bytes:
        """The plaintext state of a stored event, or an error naming the event. `keys`:
        data keys already looked up, by header, shared across a batch (most of a batch's
        events share a few keys, and the keyring's cache costs more than a dict)."""
        data = stored.state
        if len(data) < HEADER_BYTES + NONCE_BYTES + 16 or data[:1] != FORMAT_V1:
            raise TamperDetected(f"{describe(stored)} is not a sequester ciphertext")
        header = data[:HEADER_BYTES]
        key = None if keys is None else keys.get(header)
        if key is None:
            key = self._data_key(stored, header)
            if keys is not None:
                keys[header] = key
        nonce = data[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        aad = event_aad(header, stored.originator_id, stored.originator_version, stored.topic)
        try:
            plaintext: bytes = key.decrypt(nonce, data[HEADER_BYTES + NONCE_BYTES :], aad)
            return plaintext
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

    def _data_key(self, stored: StoredEvent, header: bytes) -> Any:
        try:
            return self.keyring.decryption_key_for(header[1:])
        except DataShredded as e:
            raise DataShredded(f"{describe(stored)} cannot be read: {e.detail}") from None
        except KeyUnavailable as e:
            raise KeyUnavailable(f"{describe(stored)} cannot be read: {e.detail}") from None

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        plain = StoredEvent(
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.topic,
            self.decrypt(stored_event),
        )
        return super().to_domain_event(plain)

    def to_domain_events(
        self, stored_events: Sequence[StoredEvent]
    ) -> list[DomainEventProtocol[UUID] | None]:
        """`to_domain_event` for many events at once (see `BatchDecoder`), in order;
        None where the event's data subject was shredded. Other errors are raised."""
        return self._batch_decoder.decode(stored_events)

    def __repr__(self) -> str:
        return f"EnvelopeMapper(keyring={type(self.keyring).__name__})"


class BatchDecoder:
    """`EnvelopeMapper.to_domain_event` for a batch of stored events (read-model catch-up
    and rebuilds), equal to it event for event but cheaper:

    - the JSON is parsed by pydantic-core's parser (already a dependency, through
      pydantic), then every `{"_type_": …, "_data_": …}` object is restored bottom-up
      with the transcoder's own transcodings, exactly as its object hook does;
    - the event object is built as the library's `Mapper.to_domain_event` builds it.

    Each event is decrypted by `mapper.decrypt` (so a missing key or a tampered row is
    its error, naming the event; a shredded subject gives None). Whatever else the fast
    path cannot take (an unknown topic or transcoding, JSON the fast parser refuses)
    goes through `mapper.to_domain_event` itself, so results and errors are its own.
    """

    def __init__(self, mapper: EnvelopeMapper) -> None:
        self.mapper = mapper
        names = getattr(mapper.transcoder, "names", None)
        plain = mapper.cipher is None and mapper.compressor is None
        self._names: dict[str, Any] | None = names if plain and isinstance(names, dict) else None
        self._classes: dict[tuple[str, type], tuple[type, Callable[[Any], Any], int]] = {}

    def decode(self, stored_events: Sequence[StoredEvent]) -> list[DomainEventProtocol[UUID] | None]:
        """The events, in order; None where the event's data subject was shredded."""
        if self._names is None:
            return [self._slow(stored) for stored in stored_events]
        decoders = {name: _decoder(transcoding) for name, transcoding in self._names.items()}
        events: list[DomainEventProtocol[UUID] | None] = []
        keys: dict[bytes, Any] = {}
        for stored in stored_events:
            try:
                plain = self.mapper.decrypt(stored, keys)  # its errors name the event
            except DataShredded:
                events.append(None)
                continue
            try:
                event = self._fast(stored, plain, decoders)
            except Exception:  # noqa: BLE001 - the mapper's own path decides and names it
                event = None
            events.append(self._slow(stored) if event is None else event)
        return events

    def _slow(self, stored: StoredEvent) -> DomainEventProtocol[UUID] | None:
        try:
            return self.mapper.to_domain_event(stored)
        except DataShredded:
            return None

    def _fast(
        self, stored: StoredEvent, plain: bytes, decoders: dict[str, Any]
    ) -> DomainEventProtocol[UUID] | None:
        oid, version, topic = stored.originator_id, stored.originator_version, stored.topic
        state = from_json(plain)
        if type(state) is not dict:
            return None
        for name, value in state.items():
            if type(value) is dict:  # a transcoded string (a UUID, a date) at once
                if len(value) == 2 and "_type_" in value and type(value.get("_data_")) is str:
                    state[name] = decoders[value["_type_"]](value["_data_"])
                else:
                    state[name] = _restore(value, decoders)
            elif type(value) is list:
                state[name] = _restore(value, decoders)
        if len(state) == 2 and "_type_" in state and "_data_" in state:
            return None  # the whole state is one transcoded value: the mapper's path
        found = self._classes.get((topic, type(oid)))
        cls, convert, class_version = found or self._class(topic, type(oid))
        state["originator_id"] = convert(oid)
        state["originator_version"] = version
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        event: DomainEventProtocol[UUID] = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _class(self, topic: str, id_type: type) -> tuple[type, Callable[[Any], Any], int]:
        found = self._classes.get((topic, id_type))
        if found is None:
            cls = resolve_topic(topic)
            found = (cls, find_id_convertor(cls, id_type), getattr(cls, "class_version", 1))
            self._classes[(topic, id_type)] = found
        return found


def _decoder(transcoding: Transcoding) -> Callable[[Any], Any]:
    """The library's own UUID and datetime transcodings decode with the constructors
    their `decode` calls, minus a Python call and an assert per value; any other
    transcoding decodes with its own `decode`."""
    if type(transcoding) is UUIDAsHex:
        return _uuid_from_hex
    if type(transcoding) is DatetimeAsISO:
        return datetime.fromisoformat
    return transcoding.decode


def _uuid_from_hex(data: str) -> UUID:
    """`UUID(data)`: for the 32 hex digits `UUIDAsHex` stores, the same value without
    `UUID`'s clean-up of other spellings (braces, hyphens, a URN prefix: none of them
    alphanumeric, so they still go through `UUID`)."""
    if type(data) is not str or len(data) != 32 or not data.isalnum():
        return UUID(data)
    uuid = object.__new__(UUID)
    object.__setattr__(uuid, "int", int(data, 16))
    object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
    return uuid


def _restore(value: Any, decoders: dict[str, Callable[[Any], Any]]) -> Any:
    """What `JSONTranscoder`'s object hook makes of parsed JSON: every object, innermost
    first, that has exactly the keys `_type_` and `_data_` becomes its transcoding's
    value (an unknown name raises, as there)."""
    if type(value) is dict:
        for k, v in value.items():
            if type(v) is dict or type(v) is list:
                value[k] = _restore(v, decoders)
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return decoders[value["_type_"]](value["_data_"])
    elif type(value) is list:
        for i, v in enumerate(value):
            if type(v) is dict or type(v) is list:
                value[i] = _restore(v, decoders)
    return value
