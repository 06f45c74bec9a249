"""Settings for the identity provider, `sequester token` and `sequester staff bootstrap`:
every refusal one line on stderr and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from api.auth import ClaimRules, TokenVerifier
from domain.staff.aggregate import ROLES
from ops.bootstrap import build
from ops.cli import main, parser
from ops.settings import InvalidSetting, load_settings


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("value", "expected"), [
    ("RS256", ["RS256"]), ("RS256,ES256", ["RS256", "ES256"]), (" RS256 , PS256 ", ["RS256", "PS256"]),
    ('["RS256", "EdDSA"]', ["RS256", "EdDSA"]),
])
def test_algorithms_in_every_natural_form(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("SEQUESTER_JWT_ALGORITHMS", value)
    assert load_settings().jwt_algorithms == expected


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("SEQUESTER_JWT_ALGORITHMS", "HS256", "refusing token algorithms ['HS256']"),
    ("SEQUESTER_JWT_ALGORITHMS", '["RS256"', "is not a JSON list"),
    ("SEQUESTER_JWT_ALGORITHMS", ",", "refusing token algorithms (none)"),
    ("SEQUESTER_JWT_ROLE_MAP", "{not json", "is not a JSON object"),
    ("SEQUESTER_JWT_ROLE_MAP", '["director"]', "must be a JSON object"),
    ("SEQUESTER_JWT_ROLE_MAP", '{"Admins": "root"}', "maps to unknown role(s) ['root']"),
    ("SEQUESTER_JWT_ROLES_CLAIM", "realm_access..roles", "has an empty claim name"),
    ("SEQUESTER_JWT_STAFF_ID_CLAIM", "/a~2", "is not a JSON Pointer"),
    ("SEQUESTER_JWKS_REFRESH_SECONDS", "0", "greater than or equal to 1"),
    ("SEQUESTER_JWKS_URL", "file:///etc/passwd", "must be an https:// URL"),
    ("SEQUESTER_POSTGRES_POOL_SIZE", "many", "valid integer"),
])
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_2(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variable: str, value: str, message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["keys", "status"]) == 2
    err = one_line(capsys)
    assert err.startswith(f"sequester: invalid setting {variable}: ") and message in err


def test_a_bad_setting_never_echoes_its_value(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEQUESTER_POSTGRES_POOL_SIZE", "s3cret-pa55word")
    monkeypatch.setenv("SEQUESTER_JWT_ROLE_MAP", '{"s3cret-group": 5}')
    assert main(["keys", "status"]) == 2
    err = one_line(capsys)
    assert "SEQUESTER_POSTGRES_POOL_SIZE" in err and "SEQUESTER_JWT_ROLE_MAP" in err
    assert "s3cret" not in err


def test_production_fetches_keys_over_https_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQUESTER_ENV", "production")
    monkeypatch.setenv("SEQUESTER_JWKS_URL", "http://idp.agency.example/certs")
    with pytest.raises(InvalidSetting, match="SEQUESTER_JWKS_URL: production fetches"):
        load_settings()
    monkeypatch.setenv("SEQUESTER_JWKS_URL", "http://127.0.0.1:8080/certs")  # on this host
    assert load_settings().jwks_url == "http://127.0.0.1:8080/certs"


def test_the_workers_factory_refuses_a_bad_setting_in_one_line(workdir: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SEQUESTER_JWT_ALGORITHMS": "none",
           "SEQUESTER_KEY_DIR": str(workdir / "keys")}
    done = subprocess.run(
        [sys.executable, "-c", "from api.app import create_app_from_environment as f; f()"],
        env=env, capture_output=True, text=True, cwd=Path(__file__).parents[2], check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        ("sequester: invalid setting SEQUESTER_JWT_ALGORITHMS: refusing token algorithms "
        "['none']: accepted are EdDSA, ES256, RS256, PS256 (asymmetric only)")]


def test_token_help_lists_the_roles() -> None:
    help_text = parser()._subparsers._group_actions[0].choices["token"].format_help()  # type: ignore[union-attr]
    assert all(role in help_text for role in ROLES)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("SEQUESTER_JWKS_URL", "https://idp.agency.example/certs",
     "an external identity provider is configured (SEQUESTER_JWKS_URL)"),
    ("SEQUESTER_JWT_ISSUER", "https://idp.agency.example/realms/staff",
     "an external identity provider is configured (SEQUESTER_JWT_ISSUER)"),
    ("SEQUESTER_JWKS_FILE", "/etc/sequester/jwks.json",
     "an external identity provider is configured (SEQUESTER_JWKS_FILE)"),
    ("SEQUESTER_JWT_ALGORITHMS", "RS256", "does not accept EdDSA"),
    ("SEQUESTER_JWT_ROLE_MAP", '{"Sequester.Director": "director"}',
     "gives no provider name the role 'clinician'"),
])
def test_token_refuses_what_the_configured_setup_would_refuse(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variable: str, value: str, message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["token", "--sub", "C-1", "--role", "clinician"]) == 2
    assert message in one_line(capsys)
    assert not (workdir / "var" / "keys").exists()  # refused before making any key


def test_token_refuses_an_unknown_role(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--sub", "C-1", "--role", "clinician", "--role", "root"]) == 2
    assert "unknown role(s) ['root']; sequester's roles are auditor, clinical_deputy" in (
        one_line(capsys))


def test_token_puts_staff_id_and_roles_where_the_settings_read_them(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEQUESTER_JWT_ROLES_CLAIM", "realm_access.roles")
    monkeypatch.setenv("SEQUESTER_JWT_ROLE_MAP", '{"Sequester.Director": "director"}')
    monkeypatch.setenv("SEQUESTER_JWT_STAFF_ID_CLAIM", "oid")
    assert main(["token", "--sub", "Morgan.Hale@Agency.Example", "--role", "director"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["realm_access"] == {"roles": ["Sequester.Director"]}
    assert claims["oid"] == "morgan.hale@agency.example"
    verifier = TokenVerifier(issuer="sequester-dev", audience="sequester",
                             jwks_file=workdir / "var" / "keys" / "jwks.json",
                             rules=ClaimRules("realm_access.roles",
                                              {"Sequester.Director": "director"}, "oid"))
    assert verifier.verify(token).roles == {"director"}


def test_bootstrap_hires_the_first_staff_member_then_refuses(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["staff", "bootstrap", "--staff-id", "Morgan.Hale@Agency.Example", "--role",
            "director", "--role", "hr", "--display-name", "Morgan Hale"]
    assert main(args) == 0
    assert "hired morgan.hale@agency.example as director, hr" in capsys.readouterr().out
    assert main([*args[:3], "D-2", "--role", "director"]) == 2
    assert "staff members exist already" in one_line(capsys)
    system = build(load_settings())
    try:
        member = system.staff.get("morgan.hale@agency.example")
        assert (member.roles, member.display_name) == (["director", "hr"], "Morgan Hale")
        assert not system.staff.exists("D-2")
        from tests.e2e.test_chart_journeys import audit_entries

        (entry,) = audit_entries(system)
        assert (entry["principal"], entry["action"], entry["target"], entry["decision"]) == (
            "sequester-cli", "staff.bootstrap", "morgan.hale@agency.example", "allowed")
    finally:
        system.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--staff-id", "a/b", "--role", "director"], "malformed staff id"),
    (["--staff-id", "D-1", "--role", "root"], "unknown role(s) ['root']"),
    (["--staff-id", "D-1", "--role", "director", "--job-title", "wizard"],
     "job title 'wizard' is not in the catalogue"),
])
def test_bootstrap_refuses_bad_input_in_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["staff", "bootstrap", *args]) == 2
    assert message in one_line(capsys)
