"""The checkpoint signing key (Ed25519, signed-note format): a file in development,
`SEQUESTER_CHECKPOINT_SIGNING_KEY` in production."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from domain.errors import KeyUnavailable
from ops.checkpoints import CheckpointError, CheckpointSigner, generate_signer_key, signer_from_key

FILE_NAME = "checkpoint.signing"
ENV_VAR = "SEQUESTER_CHECKPOINT_SIGNING_KEY"


def create_signing_key_file(directory: Path, origin: str, *, development: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / FILE_NAME
    doc = {"development": development, "signer": generate_signer_key(_key_name(origin))}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyUnavailable(f"key file {path} already exists; refusing to overwrite") from None
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    return path


def _key_name(origin: str) -> str:
    return origin.replace(" ", "_").replace("+", "_")


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
