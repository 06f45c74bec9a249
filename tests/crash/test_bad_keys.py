"""Damaged key material at start-up: every key-encryption key file (events, director,
medical) and the checkpoint signing key, missing, emptied, truncated or garbled, stops
`build(settings)` — and `sequester serve`, through the real console entry point —
with one line that names the key and never shows key material.

The database holds data keys wrapped under every KEK, so a garbled key whose file still
parses (other valid material) is caught too: it does not unwrap them. Already covered
elsewhere, not repeated: a wrong key directory (tests/integration/test_event_store.py),
bad environment keys and development keys in production (tests/unit/test_keyring.py,
tests/unit/test_cli.py).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from domain.base import KEK_NAMES
from domain.errors import KeyUnavailable
from ops.bootstrap import build
from ops.keys.kek import FileKeySource
from ops.keys.signing import FILE_NAME, create_signing_key_file
from ops.settings import Settings
from tests import canaries
from tests.conftest import make_keys
from tests.integration.test_accommodations_store import CONDITION, EMPLOYEE, hire
from tests.projection_data import Written, enrol

ROOT = Path(__file__).resolve().parents[2]
Damage = Callable[[Path], None]


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def wrong_material(path: Path) -> None:
    """Still a well-formed key file, holding other key material."""
    doc = json.loads(path.read_text())
    doc["material"] = base64.b64encode(secrets.token_bytes(32)).decode()
    canaries.plant(doc["material"])
    path.write_text(json.dumps(doc))


def garbled_signer(path: Path) -> None:
    """The signer key's last characters changed: a different seed, a mismatched id."""
    doc = json.loads(path.read_text())
    tail = "B" * 8 if doc["signer"].endswith("A" * 8) else "A" * 8
    doc["signer"] = doc["signer"][:-8] + tail
    path.write_text(json.dumps(doc))


KEK_DAMAGES: dict[str, tuple[Damage, str]] = {
    "missing": (Path.unlink, r"missing key-encryption key\(s\) \['{kek}'\]"),
    "empty": (empty, r"key file \S+/{kek}\.v1\.key is unreadable or corrupt"),
    "truncated": (truncate, r"key file \S+/{kek}\.v1\.key is unreadable or corrupt"),
    "garbled": (wrong_material, r"key-encryption key '{kek}' version 1 does not unwrap"),
}
SIGNER_DAMAGES: dict[str, tuple[Damage, str]] = {
    "empty": (empty, rf"key file \S+/{FILE_NAME} is unreadable or corrupt"),
    "truncated": (truncate, rf"key file \S+/{FILE_NAME} is unreadable or corrupt"),
    "garbled": (garbled_signer, rf"key file \S+/{FILE_NAME} does not hold a valid signer key"),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys and a database holding data keys under every KEK."""
    where = tmp_path_factory.mktemp("bad-keys")
    make_keys(where / "keys")
    system = build(Settings(database_url=f"sqlite:///{where / 's.db'}", key_dir=where / "keys"))
    hire(system)  # events
    enrol(system, Written())  # director
    system.accommodations.file(EMPLOYEE, EMPLOYEE, CONDITION, "late start", "intake",
                               date(2024, 5, 1))  # medical  # fmt: skip
    system.close()
    return where


@pytest.fixture
def copy(template: Path, tmp_path: Path) -> Settings:
    shutil.copytree(template, tmp_path / "copy")
    where = tmp_path / "copy"
    return Settings(database_url=f"sqlite:///{where / 's.db'}", key_dir=where / "keys",
                    projections_in_process=False)  # fmt: skip


def key_material(key_dir: Path) -> list[str]:
    """Every secret string in the key directory (checked absent from messages)."""
    found = []
    for path in key_dir.iterdir():
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        found += [str(doc[k]) for k in ("material", "signer", "d") if k in doc]
    return found


def refused(settings: Settings, pattern: str, material: list[str]) -> None:
    """`build` raises `KeyUnavailable`: one line, naming the key, no key material."""
    assert len(material) >= 4  # the KEKs and the signer key, read before the damage
    with capture_logs() as logs, pytest.raises(KeyUnavailable, match=pattern) as caught:
        build(settings)
    message = caught.value.detail
    assert "\n" not in message
    assert not [m for m in material if m in message or m in str(logs)]


@pytest.mark.parametrize("damage", sorted(KEK_DAMAGES))
@pytest.mark.parametrize("kek", KEK_NAMES)
def test_a_damaged_kek_file_stops_start_up_naming_it(copy: Settings, kek: str, damage: str) -> None:
    build(copy).close()  # it starts before the damage
    material, (harm, pattern) = key_material(copy.key_dir), KEK_DAMAGES[damage]
    harm(copy.key_dir / f"{kek}.v1.key")
    refused(copy, pattern.format(kek=kek), material)


@pytest.mark.parametrize("damage", sorted(SIGNER_DAMAGES))
def test_a_damaged_checkpoint_signing_key_stops_start_up_naming_it(
    copy: Settings, damage: str
) -> None:
    material, (harm, pattern) = key_material(copy.key_dir), SIGNER_DAMAGES[damage]
    harm(copy.key_dir / FILE_NAME)
    refused(copy, pattern, material)


def test_production_without_a_checkpoint_signing_key_does_not_start(tmp_path: Path) -> None:
    """In development `serve` creates a missing key on first run; production never does."""
    keys = tmp_path / "keys"
    for name in KEK_NAMES:
        canaries.plant(base64.b64encode(
            FileKeySource(keys).create(name, 1, development=False).secret).decode())  # fmt: skip
    create_signing_key_file(keys, "sequester.test/log", development=False)
    settings = Settings(env="production", database_url=f"sqlite:///{tmp_path / 's.db'}",
                        key_dir=keys, projections_in_process=False)  # fmt: skip
    build(settings).close()
    material = key_material(keys)
    (keys / FILE_NAME).unlink()
    refused(settings, rf"missing checkpoint signing key \S+/{FILE_NAME}", material)


def serve(settings: Settings) -> subprocess.CompletedProcess[str]:
    """`sequester serve` as an operator runs it (fails the test if it starts serving)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQUESTER_DATABASE_URL": settings.database_url,
           "SEQUESTER_KEY_DIR": str(settings.key_dir), "SEQUESTER_LOG_FORMAT": "json"}  # fmt: skip
    code = "import sys; from ops.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "serve", "--port", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("file", "harm", "named"),
    [("medical.v1.key", truncate, "medical.v1.key is unreadable or corrupt"),
     (FILE_NAME, garbled_signer, f"{FILE_NAME} does not hold a valid signer key")],
    ids=["medical-kek-truncated", "signing-key-garbled"],
)  # fmt: skip
def test_sequester_serve_refuses_to_start_in_one_line(
    copy: Settings, file: str, harm: Damage, named: str
) -> None:
    material = key_material(copy.key_dir)
    harm(copy.key_dir / file)
    done = serve(copy)
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("sequester: ") and named in line
    assert not [m for m in material if m in done.stderr or m in done.stdout]
