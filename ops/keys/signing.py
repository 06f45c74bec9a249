"""The checkpoint signing key (Ed25519, signed-note format): a file in development,
`SEQUESTER_CHECKPOINT_SIGNING_KEY` in production.

The key's name is the log's origin (the first line of every checkpoint), so one log
has one name for as long as its key lives. A new key is named
`SEQUESTER_CHECKPOINT_ORIGIN` when that is set, else the stable default name with a
random suffix: no two deployments' logs share an origin by accident.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from domain.errors import InvalidInput, KeyUnavailable
from ops.checkpoints import (
    CheckpointError,
    CheckpointSigner,
    check_name,
    generate_signer_key,
    signer_from_key,
)

FILE_NAME = "checkpoint.signing"
ENV_VAR = "SEQUESTER_CHECKPOINT_SIGNING_KEY"
#: The stable part of a generated origin (and every origin before origins were unique).
DEFAULT_ORIGIN = "sequester.local/audit-log"


def new_origin(configured: str | None) -> str:
    """The origin (key name) of a new signing key."""
    if configured is None:
        return f"{DEFAULT_ORIGIN}/{secrets.token_hex(6)}"
    try:
        check_name(configured)
    except CheckpointError:
        raise InvalidInput(
            "SEQUESTER_CHECKPOINT_ORIGIN must be one name without spaces or '+' (the log's "
            "URL without its scheme, e.g. sequester.your-agency.org/audit-log)") from None
    return configured


def create_signing_key_file(directory: Path, origin: str | None, *, development: bool) -> str:
    """A new key file named `origin`, or a generated unique origin if None; returns the
    key's name (the log's origin)."""
    name = new_origin(origin)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / FILE_NAME
    doc = {"development": development, "signer": generate_signer_key(name)}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyUnavailable(f"key file {path} already exists; refusing to overwrite") from None
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    return name


def load_signer(
    directory: Path, environ: Mapping[str, str], *, from_env: bool, production: bool
) -> CheckpointSigner:
    if from_env:
        raw, development, where = environ.get(ENV_VAR), False, f"environment variable {ENV_VAR}"
        if not raw:
            raise KeyUnavailable(f"missing checkpoint signing key: set {ENV_VAR}")
    else:
        path = directory / FILE_NAME
        where = f"key file {path}"
        try:
            doc = json.loads(path.read_text())
            raw, development = doc["signer"], bool(doc.get("development", True))
        except FileNotFoundError:
            raise KeyUnavailable(f"missing checkpoint signing key {path}") from None
        except (OSError, ValueError, KeyError, TypeError):
            raise KeyUnavailable(f"{where} is unreadable or corrupt") from None
    if production and development:
        raise KeyUnavailable(f"production refuses the development checkpoint key in {where}")
    try:
        return signer_from_key(raw)
    except CheckpointError:
        raise KeyUnavailable(f"{where} does not hold a valid signer key") from None


def check_origin(signer: CheckpointSigner, configured: str | None) -> CheckpointSigner:
    """A configured origin must be the key's name: notes name one log."""
    if configured is not None and configured != signer.name:
        raise KeyUnavailable(
            f"SEQUESTER_CHECKPOINT_ORIGIN is {configured!r} but the checkpoint signing key "
            f"names the log {signer.name!r}: unset it (the key's name is the origin) or use "
            "the key made for that origin")
    return signer
