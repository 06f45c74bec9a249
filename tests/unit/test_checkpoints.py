"""Signed checkpoints: round trip, tampering, and byte compatibility with Go's sumdb/note.

The Go vectors are the example key and note in the documentation of
golang.org/x/mod/sumdb/note (note.go, example_test.go); the second one is the
verifier-key example of the C2SP signed-note specification (an earlier revision).
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.audit.merkle import EMPTY_ROOT, leaf_hash, root
from ops.checkpoints import (
    Checkpoint,
    CheckpointError,
    CheckpointSigner,
    generate_signer_key,
    open_note,
    parse_verifier_key,
    signer_from_key,
    verify_note,
)

GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

ORIGIN = "sequester.example/audit"
ROOT = root([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])


@pytest.fixture
def signer() -> CheckpointSigner:
    return CheckpointSigner(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def signed(signer: CheckpointSigner) -> str:
    return signer.sign(Checkpoint(ORIGIN, 3, ROOT))


def replace_line(note: str, index: int, line: str) -> str:
    lines = note.split("\n")
    lines[index] = line
    return "\n".join(lines)


# ---- compatibility with golang.org/x/mod/sumdb/note ----


def test_go_signer_key_reproduces_the_go_signed_note_exactly() -> None:
    assert signer_from_key(GO_SKEY).sign_text(GO_TEXT) == GO_NOTE


def test_go_signer_key_yields_the_go_verifier_key() -> None:
    assert signer_from_key(GO_SKEY).verifier_key() == GO_VKEY


def test_go_signed_note_opens_with_the_go_verifier_key() -> None:
    assert open_note(GO_NOTE, [GO_VKEY]) == GO_TEXT


def test_spec_example_note_opens_with_the_spec_verifier_key() -> None:
    assert open_note(SPEC_NOTE, [SPEC_VKEY]) == "This is an example message.\n"
    assert parse_verifier_key(SPEC_VKEY).key_id == 0x530D903A


def test_go_note_with_edited_text_is_rejected() -> None:
    with pytest.raises(CheckpointError, match="PeterNeumann\\+c74f20a3 does not verify"):
        open_note(GO_NOTE.replace("answer", "answers"), [GO_VKEY])


# ---- checkpoint bodies ----


def test_body_is_origin_size_and_base64_root() -> None:
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    assert body == f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}\n"


def test_body_parses_back_with_extension_lines() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, EMPTY_ROOT, ("ext one", "ext two"))
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (f"{ORIGIN}\n3\n", "needs origin, size and root"),
        (f"{ORIGIN}\n03\n{base64.b64encode(ROOT).decode()}\n", "plain decimal"),
        (f"{ORIGIN}\n-3\n{base64.b64encode(ROOT).decode()}\n", "plain decimal"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT[:31]).decode()}\n", "32 bytes, not 31"),
        (f"{ORIGIN}\n3\nnot base64!\n", "not valid base64"),
        (f"\n3\n{base64.b64encode(ROOT).decode()}\n", "non-empty line"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}\n\n", "extension lines"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}", "end with a newline"),
    ],
)
def test_malformed_body_is_refused(body: str, problem: str) -> None:
    with pytest.raises(CheckpointError, match=problem):
        Checkpoint.parse(body)


def test_checkpoint_with_short_root_cannot_be_built() -> None:
    with pytest.raises(CheckpointError, match="32 bytes"):
        Checkpoint(ORIGIN, 1, b"short")


# ---- signing and verifying ----


def test_round_trip_returns_the_signed_checkpoint(signer: CheckpointSigner, signed: str) -> None:
    assert verify_note(signed, signer.verifier_key()) == Checkpoint(ORIGIN, 3, ROOT)


def test_generated_key_round_trips(signer: CheckpointSigner) -> None:
    loaded = signer_from_key(generate_signer_key("log.example/k1"))
    note = loaded.sign(Checkpoint("log.example/k1", 0, EMPTY_ROOT))
    assert verify_note(note, loaded.verifier_key()).size == 0


def test_signature_line_names_the_key(signer: CheckpointSigner, signed: str) -> None:
    line = signed.split("\n")[-2]
    assert line.startswith(f"\u2014 {ORIGIN} ")
    raw = base64.b64decode(line.split(" ")[-1])
    assert int.from_bytes(raw[:4], "big") == signer.key_id
    assert len(raw) == 4 + 64


@pytest.mark.parametrize(
    ("index", "line"),
    [
        (0, "sequester.example/other"),
        (1, "4"),
        (2, base64.b64encode(EMPTY_ROOT).decode()),
    ],
)
def test_tampered_body_is_rejected(
    signer: CheckpointSigner, signed: str, index: int, line: str
) -> None:
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(replace_line(signed, index, line), signer.verifier_key())


def test_tampered_signature_is_rejected(signer: CheckpointSigner, signed: str) -> None:
    prefix, blob = signed.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[10] ^= 0x01
    forged = f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(forged, signer.verifier_key())


def test_note_signed_by_another_key_is_rejected(signed: str) -> None:
    stranger = CheckpointSigner(ORIGIN, Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError, match="no signature by a trusted key"):
        verify_note(signed, stranger.verifier_key())


def test_unknown_extra_signature_is_ignored(signer: CheckpointSigner, signed: str) -> None:
    witness = CheckpointSigner("witness.example", Ed25519PrivateKey.generate())
    cosigned = signed + witness.sign(Checkpoint(ORIGIN, 3, ROOT)).split("\n\n")[1]
    assert verify_note(cosigned, signer.verifier_key()).size == 3


def test_either_of_two_trusted_keys_verifies(signer: CheckpointSigner, signed: str) -> None:
    other = CheckpointSigner("old.example", Ed25519PrivateKey.generate())
    assert verify_note(signed, [other.verifier_key(), signer.verifier_key()]).size == 3


def test_expected_origin_must_match(signer: CheckpointSigner, signed: str) -> None:
    assert verify_note(signed, signer.verifier_key(), origin=ORIGIN).origin == ORIGIN
    with pytest.raises(CheckpointError, match=r"not 'elsewhere\.example'"):
        verify_note(signed, signer.verifier_key(), origin="elsewhere.example")


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda n: n.replace("\n\n", "\n"), "blank line"),
        (lambda n: n.rstrip("\n"), "blank line"),
        (lambda n: n.replace("\u2014 ", "- "), "signature line reads"),
        (lambda n: n.replace("\u2014 ", "\u2014 a b "), "not valid base64"),
        (lambda n: n.replace("\n3\n", "\n3\t\n"), "control characters"),
        (lambda n: n + "\u2014 x AAAA\n", "too short"),
    ],
)
def test_malformed_note_is_refused(
    signer: CheckpointSigner, signed: str, mangle: Callable[[str], str], problem: str
) -> None:
    with pytest.raises(CheckpointError, match=problem):
        verify_note(mangle(signed), signer.verifier_key())


def test_note_that_is_not_utf8_is_refused(signer: CheckpointSigner, signed: str) -> None:
    with pytest.raises(CheckpointError, match="UTF-8"):
        verify_note(signed.encode() + b"\xff", signer.verifier_key())


def test_errors_are_value_errors() -> None:
    assert issubclass(CheckpointError, ValueError)


# ---- keys ----


@pytest.mark.parametrize(
    ("vkey", "problem"),
    [
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key id"),
        ("PeterNeumann+c74f20a3", "reads <name>"),
        ("PeterNeumann+c74f+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        ("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not an Ed25519"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
    ],
)
def test_malformed_verifier_key_is_refused(vkey: str, problem: str) -> None:
    with pytest.raises(CheckpointError, match=problem):
        parse_verifier_key(vkey)


def test_signer_key_with_wrong_id_is_refused() -> None:
    with pytest.raises(CheckpointError, match="does not match its key id"):
        signer_from_key(GO_SKEY.replace("c74f20a3", "00000000"))


def test_signer_key_without_private_prefix_is_refused() -> None:
    with pytest.raises(CheckpointError, match="PRIVATE\\+KEY"):
        signer_from_key(GO_SKEY.removeprefix("PRIVATE+"))


def test_key_errors_never_echo_key_material() -> None:
    with pytest.raises(CheckpointError) as caught:
        signer_from_key(GO_SKEY.replace("c74f20a3", "00000000"))
    assert "AYEKFALV" not in str(caught.value)


def test_signer_name_with_plus_is_refused() -> None:
    with pytest.raises(CheckpointError, match="without spaces or '\\+'"):
        CheckpointSigner("a+b", Ed25519PrivateKey.generate())
