"""Go's own transparency-log packages verify the served log: a small program using only
`golang.org/x/mod/sumdb/note` and `sumdb/tlog` (Debian's golang-golang-x-mod-dev,
built offline) checks the checkpoint's signature, the tiles against the tree hash,
consistency with a kept checkpoint, and one record's inclusion (both backends).

Under CI=true a missing Go toolchain or module fails the run (`.ci/run` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from ops.bootstrap import System, build, checkpoint_signer
from ops.checkpoints import generate_signer_key, signer_from_key
from ops.keys.tokens import sign_development_token
from tests import dbutil
from tests.e2e.test_audit_log import fill
from tests.principals import on_staff
from tests.serving import serving

SOURCE = Path(__file__).parent / "go"
X_MOD = Path("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog")


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not X_MOD.is_dir():
        missing = "the go toolchain" if go is None else f"Go's x/mod module ({X_MOD})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} is required under CI=true: apt-get install golang-go "
                        "golang-golang-x-mod-dev")
        pytest.skip(f"{missing} is not installed")
    out = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOSUMDB": "off",
           "GOTOOLCHAIN": "local", "GO111MODULE": "on", "GOCACHE": str(out / "cache"),
           "GOPATH": str(out / "gopath")}
    built = subprocess.run([go, "build", "-o", str(out / "tlogcheck"), "."], cwd=SOURCE, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    return out / "tlogcheck"


@dataclass
class Served:
    system: System
    base: str
    token: str
    vkey: str


@pytest.fixture(params=[False, True], ids=["auditors", "public"])
def served(request: pytest.FixtureRequest, backend: str, settings_for,  # type: ignore[no-untyped-def]
           key_dir: Path) -> Iterator[Served]:
    system = build(settings_for(backend, checkpoint_interval_seconds=0,
                                audit_log_public=request.param))
    on_staff(system, "AU-1", ["auditor"])
    token = sign_development_token(key_dir, sub="AU-1", roles=["auditor"],
                                   issuer="sequester-dev", audience="sequester", ttl=600)
    with serving(create_app(system.settings, system)) as base:
        yield Served(system, base, "" if request.param else token,
                     checkpoint_signer(system.settings).verifier_key())
    system.close()


def check(binary: Path, served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SEQUESTER_TOKEN": served.token}
    return subprocess.run([str(binary), "-url", served.base, *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_go_verifies_the_checkpoint_tiles_consistency_and_a_record(
    tlogcheck: Path, served: Served, tmp_path: Path
) -> None:
    fill(served.system, 300)
    headers = {"Authorization": f"Bearer {served.token}"} if served.token else {}
    kept = tmp_path / "kept"
    kept.write_text(httpx.get(f"{served.base}/audit/log/checkpoint", headers=headers).text)
    fill(served.system, 530)  # two full leaf tiles, a partial one, a level-1 tile of 2
    served.system.wait_for(served.system.infrastructure.recorder.max_notification_id())
    done = check(tlogcheck, served, "-vkey", served.vkey, "-kept", str(kept))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("verified sequester.test/log size=530 ")
    assert " kept=300" in done.stdout
    assert (" record=" in done.stdout) == bool(served.token)

    other = signer_from_key(generate_signer_key("sequester.test/log")).verifier_key()
    wrong_key = check(tlogcheck, served, "-vkey", other)
    assert wrong_key.returncode == 1 and "the served checkpoint" in wrong_key.stderr

    leaves = "sequester_merkle_leaves"
    if served.system.settings.is_postgres:
        leaves = f'"{served.system.infrastructure.env["POSTGRES_SCHEMA"]}".{leaves}'
    # A leaf of the last tile, which every check of the tree reads: the served
    # checkpoint no longer matches it (or, once the log grew, the service refuses to
    # sign over it).
    dbutil.execute(served.system, f"UPDATE {leaves} SET leaf_hash = %s WHERE leaf_index = 515",
                   (bytes(32),))
    tampered = check(tlogcheck, served, "-vkey", served.vkey)
    assert tampered.returncode == 1, tampered.stdout
    assert tampered.stderr.startswith("tlogcheck: ")
