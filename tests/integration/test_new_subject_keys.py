"""A subject's first save skips the key look-up; if that assumption were ever wrong
the save must fail as a conflict and store nothing (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import event

from domain.base import ContextApplication, ProtectedAggregate
from domain.errors import ConcurrencyConflict
from ops.bootstrap import System, build
from tests.conftest import database_url


class Thing(ProtectedAggregate):
    @event("Made")
    def __init__(self, about: UUID | None = None, id: UUID | None = None) -> None:
        self.about = about

    @property
    def data_subject_id(self) -> UUID:
        return self.about or self.id


class Things(ContextApplication):
    name = "things"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_system(  # type: ignore[no-untyped-def]
    request: pytest.FixtureRequest, settings_for, tmp_path
) -> Iterator[System]:
    schema = request.getfixturevalue("postgres_schema") if request.param == "postgres" else None
    system = build(settings_for(database_url(request.param, tmp_path, schema)))
    yield system
    system.close()


def test_a_key_that_already_exists_for_a_new_subject_fails_the_save(any_system: System) -> None:
    things = Things(any_system.infrastructure)
    subject_id = uuid4()
    things.commit(Thing(about=subject_id))  # refers to the subject before it exists
    premature = Thing(id=subject_id)  # the subject itself, saved after something about it
    before = things.position()
    with pytest.raises(ConcurrencyConflict):
        things.commit(premature)
    assert things.position() == before
    assert len(any_system.keyring.store.for_kek("events")) == 1


def test_a_new_subject_gets_exactly_one_key(any_system: System) -> None:
    things = Things(any_system.infrastructure)
    thing = Thing()
    things.commit(thing)
    assert Things(any_system.infrastructure).repository.get(thing.id).about is None
    assert [r.subject_id for r in any_system.keyring.store.for_kek("events")] == [thing.id]
