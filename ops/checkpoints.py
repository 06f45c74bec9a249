"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed-note envelopes.

A checkpoint commits to the audit log's Merkle tree head (origin, size, root). The
format is byte-compatible with golang.org/x/mod/sumdb/note, so an auditor can check
our checkpoints with the Go tools, and keys move between the two unchanged:
verifier key `<name>+<hex key id>+<base64(0x01 ‖ public key)>`, signer key
`PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
_SIZE = re.compile(r"0|[1-9][0-9]*")
_HASH_SIZE = 32


class CheckpointError(ValueError):
    """A note or key is malformed, unsigned by a trusted key, or fails to verify."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return raw


def check_name(name: str) -> None:
    """Key names are non-empty, with no spaces and no '+' (signed-note §Format)."""
    if not name or "+" in name or any(c.isspace() for c in name):
        raise CheckpointError("a key name must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> int:
    """SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Checkpoint:
    """The tree head a checkpoint commits to; `extensions` are optional extra lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("a checkpoint origin must be one non-empty line")
        if self.size < 0:
            raise CheckpointError(f"a tree size cannot be negative (got {self.size})")
        if len(self.root) != _HASH_SIZE:
            raise CheckpointError(f"a root hash has {_HASH_SIZE} bytes, not {len(self.root)}")
        if any(not line or "\n" in line for line in self.extensions):
            raise CheckpointError("checkpoint extension lines must be single non-empty lines")

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Reads a checkpoint body (the note text, without signatures)."""
        if not text.endswith("\n"):
            raise CheckpointError("a checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("a checkpoint body needs origin, size and root lines")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise CheckpointError("the checkpoint tree size is not a plain decimal number")
        return cls(
            origin, int(size), _b64decode(root, "the checkpoint root hash"), tuple(extensions)
        )


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 key, identified in notes by (name, key id)."""

    name: str
    key_id: int
    public_key: Ed25519PublicKey

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


def _encode_key(prefix: str, name: str, ident: int, key: bytes) -> str:
    return f"{prefix}{name}+{ident:08x}+{base64.b64encode(bytes([ALG_ED25519]) + key).decode()}"


def _decode_key(name: str, hex_id: str, key64: str, what: str) -> tuple[int, bytes]:
    check_name(name)
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise CheckpointError(f"the {what} key id is not 8 hex digits")
    raw = _b64decode(key64, f"the {what} key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise CheckpointError(f"the {what} key is not an Ed25519 note key")
    return int(hex_id, 16), raw[1:]


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """Reads `<name>+<hex id>+<base64(0x01 ‖ public key)>` and checks the id."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("a verifier key reads <name>+<key id>+<key>")
    name, hex_id, key64 = parts
    ident, raw = _decode_key(name, hex_id, key64, "verifier")
    if key_id(name, raw) != ident:
        raise CheckpointError(f"verifier key {name}+{hex_id} does not match its key id")
    return NoteVerifier(name, ident, Ed25519PublicKey.from_public_bytes(raw))


class CheckpointSigner:
    """Signs checkpoints as one named log key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        check_name(name)
        self.name = name
        self._private_key = private_key
        self._public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, self._public)

    def verifier_key(self) -> str:
        return _encode_key("", self.name, self.key_id, self._public)

    def sign(self, checkpoint: Checkpoint) -> str:
        """The whole signed note: body, blank line, this key's signature line."""
        return self.sign_text(checkpoint.body())

    def sign_text(self, text: str) -> str:
        """Signs any note text (must end in a newline and be valid note text)."""
        _check_note_text(text)
        if not text.endswith("\n"):
            raise CheckpointError("a note text must end with a newline")
        signature = self._private_key.sign(text.encode())
        blob = base64.b64encode(self.key_id.to_bytes(4, "big") + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {blob}\n"


def generate_signer_key(name: str) -> str:
    """A new `PRIVATE+KEY+…` string; keep it secret, publish `signer.verifier_key()`."""
    check_name(name)
    private_key = Ed25519PrivateKey.generate()
    seed = private_key.private_bytes_raw()
    return _encode_key("PRIVATE+KEY+", name, CheckpointSigner(name, private_key).key_id, seed)


def signer_from_key(skey: str) -> CheckpointSigner:
    """Reads a `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>` string."""
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise CheckpointError("a signer key reads PRIVATE+KEY+<name>+<key id>+<key>")
    name, hex_id, key64 = parts[2:]
    ident, seed = _decode_key(name, hex_id, key64, "signer")
    signer = CheckpointSigner(name, Ed25519PrivateKey.from_private_bytes(seed))
    if signer.key_id != ident:
        raise CheckpointError(f"signer key {name}+{hex_id} does not match its key id")
    return signer


def _check_note_text(text: str) -> None:
    if any(c < " " and c != "\n" for c in text):
        raise CheckpointError("a note may contain no control characters other than newline")


def _signature_lines(note: str) -> tuple[str, list[tuple[str, int, bytes]]]:
    """Splits a note into its text and (name, key id, signature) triples."""
    _check_note_text(note)
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n") or split + 2 == len(note):
        raise CheckpointError("a signed note is text, a blank line, then signature lines")
    text, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        name, _, blob = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        if not line.startswith(SIGNATURE_PREFIX) or not blob:
            raise CheckpointError("a signature line reads '— <key name> <signature>'")
        check_name(name)
        raw = _b64decode(blob, f"the signature by {name}")
        if len(raw) < 5:
            raise CheckpointError(f"the signature by {name} is too short")
        signatures.append((name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text, signatures


def open_note(note: str | bytes, verifier_keys: Iterable[str]) -> str:
    """Returns the note text once a trusted key's signature on it verifies.

    As the signed-note spec asks: signatures by unknown keys are ignored, one failing
    signature by a known key rejects the whole note, and no known signature rejects it.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode()
        except UnicodeDecodeError:
            raise CheckpointError("a signed note must be UTF-8") from None
    trusted = {(v.name, v.key_id): v for v in map(parse_verifier_key, verifier_keys)}
    text, signatures = _signature_lines(note)
    verified = False
    for name, ident, signature in signatures:
        verifier = trusted.get((name, ident))
        if verifier is None:
            continue
        if not verifier.verify(text.encode(), signature):
            raise CheckpointError(f"the signature by key {name}+{ident:08x} does not verify")
        verified = True
    if not verified:
        raise CheckpointError("the note carries no signature by a trusted key")
    return text


def verify_note(
    note: str | bytes, verifier_key: str | Iterable[str], origin: str | None = None
) -> Checkpoint:
    """Verifies a signed checkpoint and returns it; `origin`, if given, must match."""
    keys = [verifier_key] if isinstance(verifier_key, str) else list(verifier_key)
    checkpoint = Checkpoint.parse(open_note(note, keys))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
