"""Key-encryption keys (KEKs): versioned, named, and behind one small interface.

`KeyEncryptionKeys` is all the rest of sequester sees. A KMS adapter (Vault transit,
AWS KMS) implements the same five methods and keeps the KEK inside the KMS; the local
implementation here holds raw material read from a `KeyMaterialSource` (files in
development, environment variables in production).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.base import KEK_NAMES
from domain.errors import KeyUnavailable

KEY_BYTES = 32
NONCE_BYTES = 12
log = structlog.get_logger("sequester.keys")
#: How soon a process asked for a KEK version it lacks reads its key source again.
MISS_RELOAD_SECONDS = 0.1


@dataclass(frozen=True)
class KeyMaterial:
    name: str
    version: int
    secret: bytes
    development: bool


class KeyMaterialSource(ABC):
    """Where raw KEK material comes from."""

    description: str

    @abstractmethod
    def load(self) -> list[KeyMaterial]:
        """Every KEK version this source holds; raises `KeyUnavailable` on bad material."""

    def create(self, name: str, version: int, *, development: bool) -> KeyMaterial:
        raise KeyUnavailable(
            f"{self.description} is read-only: add key-encryption key {name!r} version "
            f"{version} there yourself"
        )

    def retire(self, name: str, version: int) -> None:
        raise KeyUnavailable(
            f"{self.description} is read-only: remove key-encryption key {name!r} version "
            f"{version} there yourself"
        )


def _decode_secret(raw: str, where: str) -> bytes:
    try:
        secret = base64.b64decode(raw, validate=True)
    except ValueError:
        raise KeyUnavailable(f"{where}: key material is not valid base64") from None
    if len(secret) != KEY_BYTES:
        raise KeyUnavailable(f"{where}: key material must be {KEY_BYTES} bytes, got {len(secret)}")
    return secret


class FileKeySource(KeyMaterialSource):
    """One JSON file per KEK version, `<dir>/<name>.v<N>.key`, mode 0600."""

    PATTERN = re.compile(r"^(?P<name>[a-z]+)\.v(?P<version>[0-9]+)\.key$")

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.description = f"key directory {directory}"

    def path(self, name: str, version: int) -> Path:
        return self.directory / f"{name}.v{version}.key"

    def load(self) -> list[KeyMaterial]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.iterdir()):
            match = self.PATTERN.match(path.name)
            if match:
                found.append(self._read(path, match["name"], int(match["version"])))
        return found

    def _read(self, path: Path, name: str, version: int) -> KeyMaterial:
        try:
            doc = json.loads(path.read_text())
            secret = _decode_secret(doc["material"], f"key file {path}")
            development = bool(doc.get("development", True))
        except (OSError, ValueError, KeyError, TypeError):
            raise KeyUnavailable(f"key file {path} is unreadable or corrupt") from None
        return KeyMaterial(name, version, secret, development)

    def create(self, name: str, version: int, *, development: bool) -> KeyMaterial:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path(name, version)
        secret = secrets.token_bytes(KEY_BYTES)
        doc = {
            "kek": name,
            "version": version,
            "development": development,
            "created_at": datetime.now(UTC).isoformat(),
            "material": base64.b64encode(secret).decode(),
        }
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyUnavailable(f"key file {path} already exists; refusing to overwrite") from None
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        return KeyMaterial(name, version, secret, development)

    def retire(self, name: str, version: int) -> None:
        self.path(name, version).unlink()


class EnvKeySource(KeyMaterialSource):
    """`SEQUESTER_KEK_<NAME>_V<N>=<base64 of 32 bytes>`; never development keys."""

    PATTERN = re.compile(r"^SEQUESTER_KEK_(?P<name>[A-Z]+)_V(?P<version>[0-9]+)$")

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.description = "the environment (SEQUESTER_KEK_<NAME>_V<N>)"

    def load(self) -> list[KeyMaterial]:
        found = []
        for var, raw in sorted(self.environ.items()):
            match = self.PATTERN.match(var)
            if match:
                secret = _decode_secret(raw, f"environment variable {var}")
                found.append(
                    KeyMaterial(match["name"].lower(), int(match["version"]), secret, False)
                )
        return found


class KeyEncryptionKeys(Protocol):
    """The one interface callers use; a KMS adapter implements it too."""

    def current_version(self, name: str) -> int: ...

    def versions(self, name: str) -> list[int]: ...

    def wrap(self, name: str, plaintext: bytes, aad: bytes) -> tuple[int, bytes]: ...

    def unwrap(self, name: str, version: int, wrapped: bytes, aad: bytes) -> bytes: ...

    def uses_development_keys(self) -> bool: ...


class LocalKeyEncryptionKeys:
    """KEKs held in this process, wrapping with AES-256-GCM (nonce ‖ ciphertext ‖ tag).

    With `reload`, a running process picks up KEK versions added or retired since it
    started (`sequester keys rotate` and `retire` in another process): it reads the
    source again at most every `reload_seconds` before choosing the version to wrap
    with, and at once (at most every `MISS_RELOAD_SECONDS`) when asked for a version it
    lacks. So a
    rotation never needs a restart, and no request fails once the data-key cache lapses.
    """

    def __init__(self, materials: list[KeyMaterial], description: str,
                 reload: Callable[[], list[KeyMaterial]] | None = None,
                 reload_seconds: float = 1.0) -> None:
        self.description = description
        self._reload, self._every = reload, reload_seconds
        self._loaded_at = time.monotonic()
        self._lock = threading.Lock()
        self._use(materials)

    def _use(self, materials: list[KeyMaterial]) -> None:
        self._keys = {(m.name, m.version): AESGCM(m.secret) for m in materials}
        self._development = any(m.development for m in materials)

    def _refresh(self, after: float) -> None:
        """Read the source again if it was last read more than `after` seconds ago."""
        if self._reload is None or time.monotonic() - self._loaded_at < after:
            return
        with self._lock:
            if time.monotonic() - self._loaded_at < after:
                return
            self._loaded_at = time.monotonic()
            materials = self._reload()
            self._use(materials)
        log.info("kek.reloaded", versions=sorted(f"{m.name}.v{m.version}" for m in materials))

    def versions(self, name: str) -> list[int]:
        self._refresh(self._every)
        return sorted(v for (n, v) in self._keys if n == name)

    def current_version(self, name: str) -> int:
        versions = self.versions(name)
        if not versions:
            raise KeyUnavailable(
                f"key-encryption key {name!r} has no key material in {self.description}"
            )
        return versions[-1]

    def _key(self, name: str, version: int) -> AESGCM:
        if (name, version) not in self._keys:
            self._refresh(MISS_RELOAD_SECONDS)  # a version added since: `keys rotate` elsewhere
        try:
            return self._keys[(name, version)]
        except KeyError:
            raise KeyUnavailable(
                f"key-encryption key {name!r} version {version} is not available in "
                f"{self.description}"
            ) from None

    def wrap(self, name: str, plaintext: bytes, aad: bytes) -> tuple[int, bytes]:
        version = self.current_version(name)
        nonce = secrets.token_bytes(NONCE_BYTES)
        return version, nonce + self._key(name, version).encrypt(nonce, plaintext, aad)

    def unwrap(self, name: str, version: int, wrapped: bytes, aad: bytes) -> bytes:
        key = self._key(name, version)
        try:
            return key.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except InvalidTag:
            raise KeyUnavailable(
                f"key-encryption key {name!r} version {version} does not unwrap the stored "
                "data keys: wrong key material, or the key table was altered"
            ) from None

    def uses_development_keys(self) -> bool:
        return self._development


def load_keks(source: KeyMaterialSource, *, production: bool) -> LocalKeyEncryptionKeys:
    """Load and check KEK material: every KEK present; no development keys in production.
    The source is read again (and checked the same way) when KEK versions change."""
    return LocalKeyEncryptionKeys(checked_materials(source, production), source.description,
                                  reload=lambda: checked_materials(source, production))


def checked_materials(source: KeyMaterialSource, production: bool) -> list[KeyMaterial]:
    materials = source.load()
    missing = [n for n in KEK_NAMES if not any(m.name == n for m in materials)]
    if missing:
        raise KeyUnavailable(
            f"missing key-encryption key(s) {missing} in {source.description}"
            + ("; run `sequester keys init` for development keys" if not production else "")
        )
    if production:
        dev = sorted({f"{m.name}.v{m.version}" for m in materials if m.development})
        if dev:
            raise KeyUnavailable(
                f"production refuses development key(s) {dev} from {source.description}"
            )
    return materials
