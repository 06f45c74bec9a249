"""Each deployment's log has its own origin, the signing key's name; and the input
errors of `audit verify --remote` are one line and exit 2."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from ops.cli import main
from ops.keys.signing import DEFAULT_ORIGIN, create_signing_key_file

GENERATED = re.compile(re.escape(DEFAULT_ORIGIN) + r"/[0-9a-f]{12}")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQUESTER_DATABASE_URL", f"sqlite:///{tmp_path}/var/s.db")
    monkeypatch.setenv("SEQUESTER_KEY_DIR", str(tmp_path / "var" / "keys"))
    monkeypatch.delenv("SEQUESTER_CHECKPOINT_ORIGIN", raising=False)
    return tmp_path


def key_name(key_dir: Path) -> str:
    signer = json.loads((key_dir / "checkpoint.signing").read_text())["signer"]
    return str(signer.split("+")[2])


def origin_of(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["audit", "checkpoint"]) == 0
    return capsys.readouterr().out.split("\n")[0]


def test_keys_init_names_each_log_uniquely(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["keys", "init"]) == 0
    first = key_name(workdir / "var" / "keys")
    assert GENERATED.fullmatch(first) and f"origin (its checkpoint key's name) is {first}" in \
        capsys.readouterr().out
    assert origin_of(capsys) == first
    monkeypatch.setenv("SEQUESTER_KEY_DIR", str(workdir / "other"))
    assert main(["keys", "init"]) == 0
    assert GENERATED.fullmatch(key_name(workdir / "other")) and key_name(workdir / "other") != first


def test_a_configured_origin_names_the_key(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQUESTER_CHECKPOINT_ORIGIN", "sequester.agency.example/audit-log")
    assert main(["keys", "init"]) == 0
    assert key_name(workdir / "var" / "keys") == "sequester.agency.example/audit-log"
    capsys.readouterr()
    assert origin_of(capsys) == "sequester.agency.example/audit-log"


def test_an_origin_that_cannot_name_a_key_is_refused_before_any_key_is_written(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQUESTER_CHECKPOINT_ORIGIN", "our audit log")
    assert main(["keys", "init"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "without spaces or '+'" in err
    assert not (workdir / "var" / "keys").exists()


def test_the_service_refuses_to_start_when_the_origin_is_not_the_keys_name(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["keys", "init"]) == 0
    name = key_name(workdir / "var" / "keys")
    monkeypatch.setenv("SEQUESTER_CHECKPOINT_ORIGIN", "sequester.local/audit-log")
    capsys.readouterr()
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err == (f"sequester: SEQUESTER_CHECKPOINT_ORIGIN is 'sequester.local/audit-log' but "
                   f"the checkpoint signing key names the log {name!r}: unset it (the key's "
                   "name is the origin) or use the key made for that origin\n")


def test_a_key_named_by_the_old_default_keeps_its_origin(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "init"]) == 0
    keys = workdir / "var" / "keys"
    (keys / "checkpoint.signing").unlink()
    create_signing_key_file(keys, DEFAULT_ORIGIN, development=True)  # as keys init once did
    capsys.readouterr()
    assert origin_of(capsys) == DEFAULT_ORIGIN


def test_development_keys_get_a_unique_origin_too(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--sub", "D-1", "--role", "director"]) == 0
    assert GENERATED.fullmatch(key_name(workdir / "var" / "keys"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("args", "problem"), [
    (["--remote", "http://127.0.0.1:1"], "exactly one --checkpoint FILE"),
    (["--remote", "http://127.0.0.1:1", "--checkpoint", "k"], "needs --verifier-key"),
    (["--remote", "ftp://example.org", "--checkpoint", "k", "--verifier-key", "v"],
     "http:// or https:// URL"),
    (["--remote", "http://127.0.0.1:1", "--checkpoint", "missing", "--verifier-key", "v"],
     "cannot read the checkpoint missing"),
    (["--remote", "http://127.0.0.1:1", "--checkpoint", "k", "--verifier-key", "v"],
     "does not verify with the verifier key"),
])  # fmt: skip
def test_remote_verify_input_errors_are_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str], problem: str
) -> None:
    (workdir / "k").write_text("not a checkpoint\n")
    assert main(["audit", "verify", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err


def test_remote_verify_of_an_unreachable_service_is_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "init"]) == 0
    capsys.readouterr()
    assert main(["audit", "checkpoint"]) == 0
    (workdir / "kept").write_text(capsys.readouterr().out)
    assert main(["audit", "checkpoint", "--verifier-key"]) == 0
    vkey = capsys.readouterr().out.strip()
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["audit", "verify", "--remote", url, "--checkpoint", "kept",
                 "--verifier-key", vkey, "--token", "t0ken-value"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot reach {url}" in err and "t0ken-value" not in err
