"""The app in process over HTTP, with real tokens signed by the development key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ops.bootstrap import System, build
from ops.keys.tokens import sign_development_token
from ops.settings import Settings


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
def token_for(key_dir: Path) -> Callable[..., dict[str, str]]:
    settings = Settings()

    def make(sub: str, *roles: str, ttl: int = 300) -> dict[str, str]:
        token = sign_development_token(
            key_dir, sub=sub, roles=list(roles), issuer=settings.jwt_issuer,
            audience=settings.jwt_audience, ttl=ttl,
        )
        return {"Authorization": f"Bearer {token}"}

    return make
