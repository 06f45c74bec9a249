"""The tiled audit log over HTTP, on both backends: an auditor rebuilds the root from
the served tiles alone and checks a record's inclusion from `/audit/events` alone;
the log's access, caching, audit and error rules."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.audit.merkle import MerkleTree, verify_inclusion
from domain.audit.tiles import split_hashes, tile_mismatch, tiles_for
from domain.audit.trail import AuditEntry
from ops.bootstrap import System, build, checkpoint_signer
from ops.checkpoints import verify_note
from tests import dbutil

Tokens = Callable[..., dict[str, str]]


def fill(system: System, leaves: int) -> int:
    """Audit records written directly, in one commit, until the log has `leaves` leaves;
    the log position."""
    assert system.ledger is not None
    missing = leaves - system.ledger.size()
    return system.audit.record_all([
        AuditEntry(principal="S-0", roles=["auditor"], action="test.fill", target="",
                   decision="allowed", rule="role", at=datetime.now(UTC))
        for _ in range(missing)])  # fmt: skip


def leaf_of(fields: dict[str, object]) -> bytes:
    """The README's leaf format, written out again from its description."""
    topic = str(fields["topic"]).encode()
    data = (b"sequester-leaf-v1\x00" + struct.pack(">Q", fields["notification_id"])
            + UUID(str(fields["originator_id"])).bytes + struct.pack(">q", fields["originator_version"])
            + struct.pack(">I", len(topic)) + topic + bytes.fromhex(str(fields["state_sha256"])))
    return hashlib.sha256(b"\x00" + data).digest()


def audit_rows(system: System) -> int:
    return sum(1 for r in dbutil.rows(system) if r[2].endswith("AuditRecord.Recorded"))


def test_an_auditor_rebuilds_the_root_from_tiles_and_proves_a_record_from_events_alone(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    position = fill(app_system, 300)  # a full leaf tile, a partial one, a level-1 tile
    auditor = token_for("AU-1", "auditor")
    listed = client.get("/audit/events", headers=auditor,
                        params={"after": position, "action": "test.fill"}).json()["items"]
    before = audit_rows(app_system)
    served = client.get("/audit/log/checkpoint", headers=auditor)
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.headers["cache-control"] == "private, max-age=5"
    head = verify_note(served.text, checkpoint_signer(app_system.settings).verifier_key())
    assert head.origin == "sequester.test/log" and head.size >= 300
    tiles = {}
    for tile in tiles_for(head.size):
        response = client.get(f"/audit/log/{tile.path()}", headers=auditor)
        assert response.status_code == 200, tile.path()
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
        tiles[tile] = response.content
    assert {t.level for t in tiles} == {0, 1}
    tree = MerkleTree(h for t in sorted(tiles) if t.level == 0 for h in split_hashes(tiles[t]))
    assert tree.root() == head.root and tile_mismatch(tiles) is None
    assert audit_rows(app_system) == before  # fetching the log recorded nothing

    record = listed[-1]
    assert record["action"] == "test.fill" and record["leaf_index"] < head.size
    proof = client.get(f"/audit/events/{record['record_id']}/proof", headers=auditor).json()
    assert proof["tree_size"] == head.size and proof["checkpoint"] == served.text
    assert proof["leaf"]["originator_id"] == record["record_id"]
    leaf = leaf_of(proof["leaf"])
    assert leaf.hex() == proof["leaf_hash"] and leaf == tree.levels[0][record["leaf_index"]]
    path = [bytes.fromhex(p) for p in proof["inclusion_proof"]]
    assert verify_inclusion(leaf, record["leaf_index"], head.size, path, head.root)


def test_the_default_proof_size_stays_put_at_the_signed_checkpoint(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    auditor = token_for("AU-1", "auditor")
    client.get("/audit/events", headers=auditor)
    signed = verify_note(client.get("/audit/log/checkpoint", headers=auditor).text,
                         checkpoint_signer(app_system.settings).verifier_key())
    sizes = {client.get("/audit/proofs/inclusion", headers=auditor,
                        params={"index": 0}).json()["tree_size"] for _ in range(3)}
    assert sizes == {signed.size}  # each proof request grew the log; the proofs did not move
    consistency = client.get("/audit/proofs/consistency", headers=auditor, params={"old": 1})
    assert consistency.json()["new_size"] == signed.size
    assert client.get("/audit/log/checkpoint", headers=auditor).text.split("\n")[1] == str(signed.size)


def test_a_record_after_the_latest_checkpoint_is_not_proved_yet(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    auditor = token_for("AU-1", "auditor")
    fill(app_system, 3)
    client.get("/audit/log/checkpoint", headers=auditor)
    assert app_system.ledger is not None
    position = app_system.audit.record(AuditEntry(
        principal="S-0", roles=[], action="test.late", target="", decision="allowed",
        rule="role", at=datetime.now(UTC)))
    late = client.get("/audit/events", headers=auditor,
                      params={"action": "test.late", "after": position}).json()["items"][0]
    refused = client.get(f"/audit/events/{late['record_id']}/proof", headers=auditor)
    assert refused.status_code == 409 and "after the latest signed checkpoint" in refused.text
    size = app_system.ledger.latest_checkpoint().size  # type: ignore[union-attr]
    below = client.get(f"/audit/events/{late['record_id']}/proof", headers=auditor,
                       params={"size": size})
    assert below.status_code == 400 and f"not below the tree size {size}" in below.text
    unsigned = client.get(f"/audit/events/{late['record_id']}/proof", headers=auditor,
                          params={"size": size + 1})
    assert unsigned.status_code == 404 and f"no signed checkpoint has size {size + 1}" in unsigned.text
    beyond = client.get(f"/audit/events/{late['record_id']}/proof", headers=auditor,
                        params={"size": 10**6})
    assert beyond.status_code == 400 and "larger than the log" in beyond.text


@pytest.mark.parametrize(("path", "status", "names"), [
    ("/audit/proofs/consistency?old=0", 400, "old tree size 0 must be at least 1"),
    ("/audit/proofs/consistency?old=5&new=3", 400, "old tree size 5 is larger than the tree size 3"),
    ("/audit/proofs/consistency?old=1&new=1000000", 400, "tree size 1000000 is larger than the log"),
    ("/audit/proofs/inclusion?index=3&size=3", 400, "leaf index 3 must be from 0 to 2"),
    ("/audit/proofs/inclusion?index=-1&size=3", 400, "leaf index -1 must be from 0 to 2"),
    ("/audit/proofs/inclusion?index=0&size=1000000", 400, "tree size 1000000 is larger than the log"),
    ("/audit/log/tile/00/000", 400, "without leading zeros"),
    ("/audit/log/tile/0/1", 400, "3-digit path elements"),
    ("/audit/log/tile/0/000.p/256", 400, "from 1 to 255"),
    ("/audit/log/tile/0/x000/001", 400, "no leading x000"),
    ("/audit/log/tile/0/001", 404, "needs 256 hashes at level 0"),
    ("/audit/log/tile/3/000.p/1", 404, "has 0 there"),
    ("/audit/log/tile/entries/000", 404, "serves no entry bundles"),
    (f"/audit/events/{UUID(int=7)}/proof", 404, "holds no audit record"),
])  # fmt: skip
def test_out_of_bounds_and_malformed_requests_name_the_bound(
    client: TestClient, token_for: Tokens, app_system: System, path: str, status: int, names: str
) -> None:
    fill(app_system, 10)
    auditor = token_for("AU-1", "auditor")
    before = audit_rows(app_system)
    response = client.get(path, headers=auditor)
    assert response.status_code == status, response.text
    assert names in response.json()["detail"]
    assert response.headers["cache-control"] == "no-store"
    assert audit_rows(app_system) == before + 1  # a failed read of the log is recorded


def test_by_default_the_log_needs_an_auditor_and_refusals_are_recorded(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    fill(app_system, 3)
    clinician = token_for("C-1", "clinician")
    for path in ("/audit/log/checkpoint", "/audit/log/tile/0/000.p/1",
                 f"/audit/events/{UUID(int=7)}/proof"):
        before = audit_rows(app_system)
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=clinician).status_code == 403, path
        assert audit_rows(app_system) == before + 2


@pytest.fixture
def public_client(backend: str, settings_for) -> Iterator[tuple[TestClient, System]]:  # type: ignore[no-untyped-def]
    system = build(settings_for(backend, audit_log_public=True))
    with TestClient(create_app(system.settings, system)) as c:
        yield c, system
    system.close()


def test_a_public_log_serves_checkpoint_and_tiles_without_a_token(
    public_client: tuple[TestClient, System],
) -> None:
    client, system = public_client
    fill(system, 5)
    before = audit_rows(system)
    note = client.get("/audit/log/checkpoint")
    assert note.status_code == 200 and note.headers["cache-control"] == "public, max-age=5"
    size = verify_note(note.text, checkpoint_signer(system.settings).verifier_key()).size
    tile = client.get(f"/audit/log/tile/0/000.p/{size}")
    assert tile.status_code == 200 and len(tile.content) == 32 * size
    assert tile.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert audit_rows(system) == before
    for protected in ("/audit/events", f"/audit/events/{UUID(int=7)}/proof",
                      "/audit/proofs/inclusion?index=0", "/audit/checkpoint"):
        assert client.get(protected).status_code == 401, protected


def test_a_refusal_adds_the_same_leaves_whether_or_not_it_rests_on_a_link(
    client: TestClient, token_for: Tokens, app_system: System
) -> None:
    """Leaf indexes are served: a link-based refusal must not show as a different gap."""
    from tests.e2e.test_chart_journeys import PEER, Journey, build_world, hire

    j = Journey(client, token_for)
    world = build_world(j)
    hire(j, "C-2", "clinician", "clinician")
    auditor = token_for("AU-1", "auditor")
    added = []
    for who, pseudonym in ((PEER, world.own), (("C-2", "clinician"), world.own)):
        before = len(dbutil.rows(app_system))
        assert j.get(f"/charts/{pseudonym}", who).status_code == 403
        added.append(len(dbutil.rows(app_system)) - before)
    assert added == [1, 1]  # the audit record alone, either way: reads never consult a link
    position = max(r[4] for r in dbutil.rows(app_system))
    refused = client.get("/audit/events", headers=auditor, params={
        "action": "chart.read", "decision": "denied", "after": position}).json()["items"]
    assert [r["rule"] for r in refused] == ["no_grant", "no_grant"]
    assert len({r["leaf_index"] for r in refused}) == 2


def test_the_readmes_record_check_accepts_served_proofs_and_refuses_an_edited_one(
    client: TestClient, token_for: Tokens, app_system: System, tmp_path: Path
) -> None:
    """The stdlib script in the README's "An outside auditor" section, run as printed."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    script = tmp_path / "check_record.py"
    script.write_text(readme.split("```python\n", 1)[1].split("```", 1)[0])
    position = fill(app_system, 300)
    auditor = token_for("AU-1", "auditor")
    client.get("/audit/log/checkpoint", headers=auditor)
    listed = client.get("/audit/events", headers=auditor, params={
        "after": position, "action": "test.fill", "limit": 500}).json()["items"]
    for record in listed[:: len(listed) // 7]:
        proof = client.get(f"/audit/events/{record['record_id']}/proof", headers=auditor).json()
        (tmp_path / "proof.json").write_text(json.dumps(proof))
        done = subprocess.run([sys.executable, str(script), str(tmp_path / "proof.json")],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"record {record['record_id']} is leaf {record['leaf_index']} ")
    proof["inclusion_proof"][0] = "00" * 32
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "proof.json")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "AssertionError" in done.stderr
