"""The console script: keys, errors as one line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.cli import main


def test_keys_init_then_refuses_to_overwrite(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "init"]) == 0
    before = {p.name: p.read_bytes() for p in (workdir / "var" / "keys").iterdir()}
    assert main(["keys", "init"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to overwrite" in err
    assert {p.name: p.read_bytes() for p in (workdir / "var" / "keys").iterdir()} == before


def test_status_rotate_retire(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    assert main(["keys", "rotate", "--kek", "events"]) == 0
    assert main(["keys", "retire", "--kek", "events", "--version", "1"]) == 0
    capsys.readouterr()
    assert main(["keys", "status"]) == 0
    out = capsys.readouterr().out
    events_line = next(line for line in out.splitlines() if line.startswith("events:"))
    assert events_line.startswith("events: versions [2], current v2, data keys wrapped: v2: ")
    assert "v1" not in events_line


def test_retire_refuses_a_version_still_in_use(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    assert main(["keys", "retire", "--kek", "events", "--version", "1"]) == 2
    assert "current version" in capsys.readouterr().err


def test_production_refuses_development_keys_in_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "init"]) == 0
    monkeypatch.setenv("SEQUESTER_ENV", "production")
    assert main(["keys", "status"]) == 2
    err = capsys.readouterr().err
    assert "production refuses development key(s)" in err and "Traceback" not in err


def test_missing_keys_are_named_at_startup(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "status"]) == 2
    assert "missing key-encryption key(s) ['events', 'director', 'medical']" in capsys.readouterr().err


def test_bad_database_url_is_one_clear_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEQUESTER_DATABASE_URL", "mysql://x")
    assert main(["keys", "status"]) == 2
    assert "SEQUESTER_DATABASE_URL must start with" in capsys.readouterr().err


def test_shred_needs_a_uuid(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "shred", "--subject", "../etc", "--reason", "x"]) == 2
    assert "must be a data subject id" in capsys.readouterr().err


def test_the_look_back_can_be_never(monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.settings import Settings

    monkeypatch.setenv("SEQUESTER_DUAL_RELATIONSHIP_LOOKBACK_MONTHS", "never")
    assert Settings().dual_relationship_lookback_months is None
    monkeypatch.setenv("SEQUESTER_DUAL_RELATIONSHIP_LOOKBACK_MONTHS", "36")
    assert Settings().dual_relationship_lookback_months == 36


def test_token_prints_a_verifiable_development_token(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.auth import TokenVerifier

    assert main(["token", "--sub", "C-001", "--role", "clinician", "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    verifier = TokenVerifier(
        issuer="sequester-dev", audience="sequester", jwks_file=workdir / "var" / "keys" / "jwks.json"
    )
    assert verifier.verify(token).roles == {"clinician"}


def test_token_is_refused_in_production(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEQUESTER_ENV", "production")
    assert main(["token", "--sub", "D-1", "--role", "director"]) == 2
    assert "for development" in capsys.readouterr().err


def test_an_unreachable_database_is_one_line_without_the_url(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "init"]) == 0
    monkeypatch.setenv("SEQUESTER_DATABASE_URL", "postgresql://u:s3cret@127.0.0.1:1/nowhere")
    monkeypatch.setenv("SEQUESTER_POSTGRES_CONNECT_TIMEOUT_SECONDS", "1")
    assert main(["keys", "status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "database cannot be reached" in err
    assert "s3cret" not in err and "Traceback" not in err


@pytest.mark.parametrize("rounds", ["0", "-1", "101", "two"])
def test_bench_api_rounds_must_be_a_whole_number_from_1_to_100(
    workdir: Path, capsys: pytest.CaptureFixture[str], rounds: str
) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["bench", "api", "--rounds", rounds])
    assert exit.value.code == 2
    assert "--rounds: must be a whole number from 1 to 100" in capsys.readouterr().err
