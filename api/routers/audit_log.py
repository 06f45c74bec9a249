"""The audit log as a C2SP tlog-tiles log under `/audit/log/`: the latest signed
checkpoint and the hash tiles, for monitors, mirrors and auditors' standard tools.

Both hold hashes only, never record data: with `SEQUESTER_AUDIT_LOG_PUBLIC=true`
anyone may fetch them, else the auditor (or director) role. A fetch that succeeds
leaves no audit record (a mirror polling the log would otherwise grow it by itself);
a refused or failed one does. Entry bundles are not served: a leaf commits to an
encrypted event, and an auditor reads an audit record's leaf at
`/audit/events/{id}/proof`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import PlainTextResponse

from api import audit
from api.deps import SystemDep, require
from api.routers.audit_proofs import latest_signed, ledger_of
from domain.audit.tiles import parse_tile_path
from domain.errors import NotFound
from ops.bootstrap import System

router = APIRouter(prefix="/audit/log", tags=["audit log"])
_AUDITORS = require("auditor", "director")
#: The checkpoint changes: caches keep it a few seconds at most (tlog-tiles).
CHECKPOINT_MAX_AGE = 5
#: A tile never changes (a partial one is its own URL): cached for a year.
TILE_MAX_AGE = 365 * 24 * 3600


async def log_reader(request: Request) -> None:
    """Anyone when the log is public, else an auditor or the director's office."""
    if not request.app.state.system.settings.audit_log_public:
        await _AUDITORS(request)
    audit.serves_public_data()


def cache_control(system: System, max_age: int, immutable: bool = False) -> str:
    scope = "public" if system.settings.audit_log_public else "private"
    return f"{scope}, max-age={max_age}" + (", immutable" if immutable else "")


@router.get("/checkpoint", response_class=PlainTextResponse, dependencies=[Depends(log_reader)])
def log_checkpoint(system: SystemDep) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint, Ed25519 signed note): signed
    anew at most every SEQUESTER_CHECKPOINT_INTERVAL_SECONDS, once the log has grown."""
    note = latest_signed(system).note
    return PlainTextResponse(note, headers={"Cache-Control": cache_control(system, CHECKPOINT_MAX_AGE)})


@router.get(
    "/tile/{level}/{index:path}",
    dependencies=[Depends(log_reader)],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                            "format": "binary"}}},
                     "description": "The tile's hashes, 32 bytes each"}},
)
def tile(
    level: Annotated[str, Path(max_length=8)],
    index: Annotated[str, Path(max_length=64)],
    system: SystemDep,
) -> Response:
    """Hash tile `index` of `level` (C2SP tlog-tiles, 256 hashes; `.p/<W>`: the partial
    tile of W hashes). 404 for a tile the log does not have (yet)."""
    if level == "entries":
        raise NotFound("this log serves no entry bundles: its leaves commit to encrypted "
                       "events; auditors read an audit record's leaf at /audit/events/{id}/proof")
    wanted = parse_tile_path(level, index)
    ledger = ledger_of(system)
    return Response(ledger.tiles.tile(wanted, ledger.size()), media_type="application/octet-stream",
                    headers={"Cache-Control": cache_control(system, TILE_MAX_AGE, immutable=True)})
