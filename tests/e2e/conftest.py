"""The app in process over HTTP, with real tokens signed by the development key, of
staff members on staff (`tests.principals`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ops.bootstrap import System, build
from tests.principals import staff_tokens


@pytest.fixture
def app_system(backend: str, settings_for) -> Iterator[System]:  # type: ignore[no-untyped-def]
    system = build(settings_for(backend))
    yield system
    system.close()


@pytest.fixture
def client(app_system: System) -> Iterator[TestClient]:
    with TestClient(create_app(app_system.settings, app_system)) as c:
        yield c


@pytest.fixture
def token_for(key_dir: Path, app_system: System) -> Callable[..., dict[str, str]]:
    """`token_for(sub, *roles)`: headers of a staff member of the app's system on staff
    holding `roles` (`tests.principals.staff_tokens`)."""
    return staff_tokens(key_dir, app_system)
