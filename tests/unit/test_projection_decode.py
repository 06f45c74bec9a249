"""The batch decoder's JSON path restores exactly what the library's transcoder decodes,
and falls back to the mapper (same result, same error) for what it does not take."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import TranscodingNotRegisteredError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import from_json

from ops.bootstrap import System, transcoder
from ops.cipher import _decoder, _restore, _uuid_from_hex
from projections.reading import collector_paused

TRANSCODER = transcoder()
DECODERS = {name: _decoder(t) for name, t in TRANSCODER.names.items()}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.floats(allow_nan=False), st.uuids(), st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3))])),
    st.decimals(allow_nan=False, allow_infinity=False),
)  # fmt: skip
keys = st.one_of(st.text(max_size=6), st.sampled_from(["_type_", "_data_"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


def fast(data: bytes) -> Any:
    return _restore(from_json(data), DECODERS)


@settings(deadline=None, max_examples=300)
@given(value=st.dictionaries(keys, values, max_size=6))
def test_restore_equals_the_transcoder(value: dict[str, Any]) -> None:
    try:
        data = TRANSCODER.encode(value)
    except (TypeError, ValueError):  # e.g. a key the transcoder itself cannot encode
        return
    try:
        expected = TRANSCODER.decode(data)
    except (TranscodingNotRegisteredError, TypeError):  # an unknown or unhashable name
        with pytest.raises((KeyError, TypeError)):  # the decoder then takes the mapper's path
            fast(data)
        return
    assert fast(data) == expected
    assert type(fast(data)) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": {"_type_": "uuid_hex"}}',  # no _data_: stays a dict
        b'{"a": {"_data_": "x", "b": 1}}',
        b'{"a": [{"_type_": "date_iso", "_data_": "2025-01-02"}, {"_type_": 1, "x": 2}]}',
        b'{"a": {"_type_": "decimal_str", "_data_": "1.10"}, "b": [[{"c": {}}]]}',
        b'{"a": {"_type_": "date_iso", "_data_": {"_type_": "x"}}}',
    ],
)
def test_restore_edge_shapes(text: bytes) -> None:
    try:
        expected = TRANSCODER.decode(text)
    except Exception as e:  # noqa: BLE001 - then the fast path fails too (the same way)
        with pytest.raises(type(e)):
            fast(text)
        return
    assert fast(text) == expected


@settings(deadline=None, max_examples=300)
@given(
    text=st.one_of(
        st.uuids().flatmap(
            lambda u: st.sampled_from([u.hex, str(u), "{" + str(u) + "}", f"urn:uuid:{u}", u.hex.upper()])
        ),
        st.text(alphabet="0123456789abcdefABCDEFxg_ -{}\u0663", min_size=30, max_size=34),
    )
)
def test_uuid_from_hex_equals_uuid(text: str) -> None:
    try:
        expected = UUID(text)
    except ValueError:
        with pytest.raises(ValueError):
            _uuid_from_hex(text)
        return
    decoded = _uuid_from_hex(text)
    assert decoded == expected
    assert (type(decoded), str(decoded), hash(decoded), decoded.is_safe) == (
        UUID, str(expected), hash(expected), expected.is_safe
    )


def test_unknown_transcoding_falls_back_to_the_mappers_error(memory_system: System) -> None:
    mapper: Any = memory_system.infrastructure.mapper
    memory_system.staff.hire("S-1", "Person One", "clinician", ["clinician"], date(2024, 1, 8))
    notifications = memory_system.infrastructure.recorder.select_notifications(1, 10)
    assert [vars(e) for e in mapper.to_domain_events(notifications)] == [
        vars(mapper.to_domain_event(n)) for n in notifications
    ]
    del mapper.transcoder.names["datetime_iso"]  # as if written by a newer version
    try:
        with pytest.raises(Exception) as slow:
            mapper.to_domain_event(notifications[0])
        with pytest.raises(type(slow.value)) as batch:
            mapper.to_domain_events(notifications)
        assert str(batch.value) == str(slow.value)
    finally:
        mapper.transcoder.register(transcoder().names["datetime_iso"])


def test_collector_paused_restores_the_state_it_found() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_records_with_uuid_lists_and_decimals_round_trip() -> None:
    value = {"ids": [uuid4(), uuid4()], "amount": Decimal("12.50"),
             "at": datetime.now(UTC), "nested": {"on": [date(2025, 1, 2)]}}  # fmt: skip
    data = TRANSCODER.encode(value)
    assert fast(data) == TRANSCODER.decode(data) == value
