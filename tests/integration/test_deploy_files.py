"""The deployment files in ops/deploy: the compose file and the systemd units name real
`sequester` commands with production settings; the env example holds only placeholders
that production refuses; and backup.sh / restore.sh round-trip a real PostgreSQL
deployment (dump and keys kept apart), with `audit verify` failing a tampered restore."""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import yaml  # type: ignore[import-untyped]
from psycopg import sql

from domain.errors import KeyUnavailable
from ops.bootstrap import build, checkpoint_signer
from ops.cli import main, parser
from ops.demo import load_demo
from ops.keys.kek import EnvKeySource, load_keks
from ops.settings import Settings
from tests import dbutil
from tests.conftest import POSTGRES_URL, require_postgres

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "ops" / "deploy"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
VENV_BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return doc


def interpolated(value: str) -> str:
    """Compose's `${VAR:-default}` → default, `${VAR:?message}` → a stand-in value."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "set-in-env", value)


def command_of(argv: list[str]) -> str:
    """The CLI function an argument vector runs (argparse, as `sequester` parses it)."""
    return str(parser().parse_args(argv).run.__name__)


# -- compose ------------------------------------------------------------------------------

def test_compose_runs_postgres_the_api_and_one_projector() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "api", "projector"}
    assert services["db"]["image"] == "postgres:15"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["db"]["volumes"])
    assert "pgdata" in compose()["volumes"]
    api = [interpolated(a) for a in services["api"]["command"]]
    assert command_of(api) == "serve" and api[api.index("--workers") + 1].isdigit()
    assert command_of(services["projector"]["command"]) == "project"
    assert services["projector"]["deploy"]["replicas"] == 1
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_compose_services_run_production_settings_with_read_only_keys() -> None:
    for name in ("api", "projector"):
        service = compose()["services"][name]
        env = service["environment"]
        assert (env["SEQUESTER_ENV"], env["SEQUESTER_LOG_FORMAT"]) == ("production", "json")
        assert env["SEQUESTER_DATABASE_URL"].startswith("postgresql://")
        keys = next(v for v in service["volumes"] if v["target"] == env["SEQUESTER_KEY_DIR"])
        assert keys["read_only"] is True
        assert service["read_only"] is True and "no-new-privileges:true" in service["security_opt"]
        assert service["build"]["dockerfile"] == "ops/deploy/Dockerfile"
    text = (DEPLOY / "compose.yaml").read_text()
    # the one secret (the database password) only ever comes from the environment
    secret = "${SEQUESTER_DB_PASSWORD:?set SEQUESTER_DB_PASSWORD in .env}"
    assert re.findall(r"PASSWORD: (.+)$", text, re.MULTILINE) == [secret]
    assert "sequester:${SEQUESTER_DB_PASSWORD:?" in text


def test_the_image_installs_hashed_dependencies_then_the_project_alone() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    runs = [line for line in lines if line.startswith("RUN pip install")]
    assert runs[0].split()[3:] == ["--require-hashes", "-r", "/tmp/build/requirements.lock"]
    assert runs[1].startswith("RUN pip install --no-deps /tmp/build")
    assert "USER 10001:10001" in lines and 'ENTRYPOINT ["sequester"]' in lines
    copied = [line.split()[1] for line in lines if line.startswith("COPY ")]
    assert {"domain", "projections", "api", "ops", "bench", "requirements.lock"} <= set(copied)


def test_the_build_context_excludes_keys_but_no_source_file() -> None:
    patterns = [p for p in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
                if p and not p.startswith("#")]

    def ignored(path: str) -> bool:
        """Docker's rule: a pattern excludes what it matches and everything below it;
        `**/` matches any number of directories."""
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        tails = ["/".join(parts[i : j + 1]) for j in range(len(parts)) for i in range(j + 1)]
        return any(fnmatch.fnmatch(c, p) for p in patterns for c in prefixes) or any(
            fnmatch.fnmatch(t, p[3:]) for p in patterns if p.startswith("**/") for t in tails)

    sources = [str(p.relative_to(ROOT)) for d in ("domain", "projections", "api", "ops", "bench")
               for p in (ROOT / d).rglob("*.py")]
    assert sources and not [s for s in sources if ignored(s)]
    for secret in ("var/keys/events.v1.key", "var/keys/checkpoint.signing",
                   "var/keys/token-signing.jwk", ".venv/bin/python", "backups/x.dump",
                   "ops/deploy/.env"):
        assert ignored(secret), secret


# -- systemd ------------------------------------------------------------------------------

def unit(name: str) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.optionxform = str  # type: ignore[assignment,method-assign]
    config.read_string((DEPLOY / name).read_text())
    return config


@pytest.mark.parametrize("name, command", [("sequester-api.service", "serve"),
                                           ("sequester-projector.service", "project")])
def test_each_unit_runs_a_real_subcommand_hardened(name: str, command: str) -> None:
    service = unit(name)["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == "/opt/sequester/venv/bin/sequester"
    assert command_of(argv[1:]) == command
    with pytest.raises(SystemExit) as help_exit:
        main([argv[1], "--help"])
    assert help_exit.value.code == 0
    assert service["EnvironmentFile"] == "/etc/sequester/sequester.env"
    assert (service["User"], service["NoNewPrivileges"], service["ProtectSystem"],
            service["PrivateTmp"]) == ("sequester", "yes", "strict", "yes")
    assert service["ReadWritePaths"] == "/var/lib/sequester"


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for name in ("sequester-api.service", "sequester-projector.service"):
        text = (DEPLOY / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/sequester/venv/bin/sequester",
                                                  str(VENV_BIN / "sequester")))
    result = subprocess.run([analyze, "verify", *sorted(map(str, tmp_path.iterdir()))],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# -- the env example ----------------------------------------------------------------------

def env_lines(text: str, *, commented: bool = False) -> dict[str, str]:
    """KEY=VALUE lines as systemd and `source` read them (single quotes stripped)."""
    prefix = "#" if commented else ""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{prefix}([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match[1]] = match[2].strip("'")
    return found


def test_the_env_example_is_production_and_holds_no_secret() -> None:
    text = (DEPLOY / "sequester.env.example").read_text()
    active = env_lines(text)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in active.items():
            mp.setenv(name, value)
        settings = Settings()
    assert settings.production and settings.log_format == "json"
    assert settings.jwt_algorithms == ["RS256"] and settings.jwks_url
    assert urlsplit(settings.database_url).password is None  # the password is in PGPASSFILE
    assert not any("PASSWORD" in k or k.startswith("SEQUESTER_KEK_") for k in active)


def test_the_env_examples_key_placeholders_are_refused_in_production(tmp_path: Path) -> None:
    placeholders = env_lines((DEPLOY / "sequester.env.example").read_text(), commented=True)
    keks = {k: v for k, v in placeholders.items() if k.startswith("SEQUESTER_KEK_")}
    assert len(keks) == 3
    with pytest.raises(KeyUnavailable, match="SEQUESTER_KEK_DIRECTOR_V1: key material is not"):
        load_keks(EnvKeySource(keks), production=True)
    settings = Settings(env="production", key_source="env", key_dir=tmp_path)
    signing = {"SEQUESTER_CHECKPOINT_SIGNING_KEY": placeholders["SEQUESTER_CHECKPOINT_SIGNING_KEY"]}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in signing.items():
            mp.setenv(name, value)
        with pytest.raises(KeyUnavailable, match="does not hold a valid signer key"):
            checkpoint_signer(settings)


# -- backup and restore, for real ---------------------------------------------------------

def require_pg_tools() -> None:
    if shutil.which("pg_dump", path=f"{PG_BIN}:{os.environ.get('PATH', '')}") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pg_dump/pg_restore (PostgreSQL 15 client) are required under CI=true")
        pytest.skip("pg_dump is not installed")


@pytest.fixture
def scratch_databases() -> Iterator[list[str]]:
    """Names of databases to create; each is dropped afterwards."""
    require_postgres()
    require_pg_tools()
    names: list[str] = []
    yield names
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def fresh_database(names: list[str], schema: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    names.append(name)
    return urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}", query=f"schema={schema}"))


@pytest.fixture
def deployment(tmp_path: Path, postgres_schema: str) -> dict[str, str]:
    """A production deployment in a scratch schema: production keys, the demo agency."""
    require_pg_tools()
    env = {"SEQUESTER_ENV": "production", "SEQUESTER_LOG_FORMAT": "json",
           "SEQUESTER_DATABASE_URL": f"{POSTGRES_URL}?schema={postgres_schema}",
           "SEQUESTER_KEY_DIR": str(tmp_path / "keys"),
           "SEQUESTER_CHECKPOINT_ORIGIN": "sequester.test/audit-log"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        assert main(["keys", "init", "--production"]) == 0
        system = build(Settings())
        try:
            load_demo(system)
        finally:
            system.close()
    return env


def run(tmp_path: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """A deploy script through `sequester-env`, with an env file as the units use it."""
    env_file = tmp_path / f"sequester-{uuid.uuid4().hex[:6]}.env"
    env_file.write_text("".join(f"{k}='{v}'\n" for k, v in env.items()))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SEQUESTER_", "PG"))}
    clean.update(PATH=f"{PG_BIN}:{clean.get('PATH', '')}", SEQUESTER_ENV_FILE=str(env_file),
                 SEQUESTER_VENV=str(VENV_BIN.parent), SEQUESTER_USER=_user(),
                 SEQUESTER_BIN=str(VENV_BIN / "sequester"))
    return subprocess.run([str(DEPLOY / "sequester-env"), *argv], check=False, env=clean,
                          capture_output=True, text=True, timeout=120)


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def snapshot(env: dict[str, str]) -> dict[str, Any]:
    """What a restore must bring back: every stored row, names, staff, read-model positions."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        system = build(Settings())
    try:
        assert system.projections is not None
        system.projections.catch_up()
        pseudonyms = system.subjects.list_pseudonyms()
        return {
            "rows": [r[:4] for r in dbutil.rows(system)],
            "names": [system.subjects.identity(p).legal_name for p in pseudonyms],
            "director": system.staff.get("D-001").display_name,
            "read models": system.projections.positions(),
        }
    finally:
        system.close()


def test_backup_then_restore_into_a_fresh_database_verifies_and_reads_back(
    tmp_path: Path, deployment: dict[str, str], scratch_databases: list[str]
) -> None:
    before = snapshot(deployment)
    dumps, vault = tmp_path / "backups", tmp_path / "keyvault"
    backup = run(tmp_path, deployment, str(DEPLOY / "backup.sh"), str(dumps), str(vault))
    assert backup.returncode == 0, backup.stderr
    assert sorted(p.suffix for p in dumps.iterdir()) == [".checkpoint", ".dump", ".sha256"]
    assert [p.suffix for p in vault.iterdir()] == [".tar"]  # the keys, and only there
    assert (next(vault.iterdir()).stat().st_mode & 0o777) == 0o600
    dump, keys = next(dumps.glob("*.dump")), next(vault.iterdir())
    schema = urlsplit(deployment["SEQUESTER_DATABASE_URL"]).query.removeprefix("schema=")
    target = {**deployment, "SEQUESTER_KEY_DIR": str(tmp_path / "restored-keys"),
              "SEQUESTER_DATABASE_URL": fresh_database(scratch_databases, schema)}

    wrong_schema = {**target, "SEQUESTER_DATABASE_URL": fresh_database(scratch_databases, "other")}
    refused = run(tmp_path, wrong_schema, str(DEPLOY / "restore.sh"), str(dump), str(keys))
    assert refused.returncode == 2 and "restore with the ?schema=" in refused.stderr
    restore = run(tmp_path, target, str(DEPLOY / "restore.sh"), str(dump), str(keys))
    assert restore.returncode == 0, restore.stderr
    assert "audit log verified" in restore.stdout and "restore verified" in restore.stdout
    assert snapshot(target) == before
    again = run(tmp_path, target, str(DEPLOY / "restore.sh"), str(dump))
    assert again.returncode == 2 and "already holds sequester tables" in again.stderr


def test_a_restore_of_a_tampered_log_fails_verification(
    tmp_path: Path, deployment: dict[str, str], scratch_databases: list[str]
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in deployment.items():
            mp.setenv(name, value)
        system = build(Settings())
    try:
        row = dbutil.rows(system)[5]
        dbutil.set_state(system, row[4], bytes(row[3])[:-1] + bytes([row[3][-1] ^ 1]))
    finally:
        system.close()
    dumps, vault = tmp_path / "backups", tmp_path / "keyvault"
    assert run(tmp_path, deployment, str(DEPLOY / "backup.sh"), str(dumps),
               str(vault)).returncode == 0
    schema = urlsplit(deployment["SEQUESTER_DATABASE_URL"]).query.removeprefix("schema=")
    target = {**deployment, "SEQUESTER_KEY_DIR": str(tmp_path / "restored-keys"),
              "SEQUESTER_DATABASE_URL": fresh_database(scratch_databases, schema)}
    restore = run(tmp_path, target, str(DEPLOY / "restore.sh"), str(next(dumps.glob("*.dump"))),
                  str(next(vault.iterdir())))
    assert restore.returncode == 1
    assert "audit verify FAILED" in restore.stderr and "RESTORE FAILED" in restore.stderr


def test_backup_refuses_to_keep_keys_with_the_dumps(
    tmp_path: Path, deployment: dict[str, str]
) -> None:
    for dumps, keys in ((tmp_path / "b", tmp_path / "b"), (tmp_path / "b", tmp_path / "b/k"),
                        (tmp_path / "c/d", tmp_path / "c")):
        result = run(tmp_path, deployment, str(DEPLOY / "backup.sh"), str(dumps), str(keys))
        assert result.returncode == 2 and "separate places" in result.stderr
    assert not list(tmp_path.glob("**/*.dump")) and not list(tmp_path.glob("**/*.tar"))
