"""The audit trail for auditors and the Director's office: events (each with its Merkle
leaf index), replay, FHIR export, and each subject's access report. Proofs are in
`audit_proofs`, the tiled log in `audit_log`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from api import audit
from api.auth import Principal
from api.deps import SystemDep, require
from api.schemas.common import PSEUDONYM_PATTERN
from domain.audit.fhir import export_ndjson
from domain.audit.replay import replay, reveal_for
from domain.audit.report import access_report, filter_entries, iter_audit_entries
from ops.bootstrap import System
from ops.ledger_records import leaf_indexes
from projections.audit_index import AuditIndex

router = APIRouter(tags=["audit"])
Auditor = Annotated[Principal, Depends(require("auditor", "director"))]
Director = Annotated[Principal, Depends(require("director"))]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/audit/events")
def audit_events(
    system: SystemDep,
    principal: Auditor,
    by: Annotated[str | None, Query(alias="principal", max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    decision: Literal["allowed", "denied", "failed"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    after: Annotated[int | None, Query(ge=0, description="wait until this position is indexed")] = None,
) -> dict[str, Any]:
    """Audit records, oldest first, filtered by principal, target, action, decision, time,
    each with its `leaf_index` in the Merkle log (proof: `/audit/events/{id}/proof`).
    Rules that rest on the staff↔client link appear only as "sequestration"."""
    system.wait_for(after)
    audit.read(system, "audit.events")
    filters: dict[str, Any] = {"principal": by, "target": target, "action": action,
                               "decision": decision, "since": since, "until": until}
    if system.projections is None:  # in memory: scan the log
        entries = list(filter_entries((e for _, e in iter_audit_entries(system)), **filters))
        page = [_json(e) for e in entries[offset : offset + limit + 1]]
    else:
        index = next(p for p in system.projections.projections if isinstance(p, AuditIndex))
        page = [_json(r) for r in index.search(system.projections.db, **filters,
                                               limit=limit + 1, offset=offset)]
    more = len(page) > limit
    return {"items": with_leaf_indexes(system, page[:limit]),
            "next_offset": offset + limit if more else None}


def with_leaf_indexes(system: System, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record's leaf index in the Merkle log (None: no log, or no row for it)."""
    ids = [UUID(item["record_id"]) for item in items]
    found = {} if system.ledger is None else leaf_indexes(system.ledger, ids)
    return [{**item, "leaf_index": found.get(i)} for item, i in zip(items, ids, strict=True)]


def _json(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else str(v) if k == "record_id" else v)
            for k, v in entry.items()}


@router.get("/audit/replay/{kind}/{public_id}")
def replay_aggregate(
    kind: Annotated[str, Path(pattern=r"^[a-z_]{1,32}$")],
    public_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")],
    system: SystemDep,
    principal: Auditor,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Any aggregate as it was at a time or version, showing each role no more than its
    own routes show it: notes, clinical codes, medical files, free text and the
    staff↔client link are redacted; the Director's office also sees identities, links,
    subjects' labels and groups, supervisors, dual-relationship cases and grant
    justifications."""
    record = audit.this_request()  # a refusal is recorded against what was asked for
    record.action, record.target = f"audit.replay.{kind}", public_id
    result = replay(system, kind, public_id, as_of=as_of, version=version,
                    reveal=reveal_for(principal.roles))
    audit.read(system, f"audit.replay.{kind}", public_id)  # durable before the state is sent
    return result.public()


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/fhir+ndjson": {"schema": {"type": "string"}}},
                     "description": "One FHIR R4 AuditEvent per line"}},
)
def export(
    system: SystemDep, principal: Auditor, format: Literal["fhir"] = "fhir"
) -> StreamingResponse:
    """The whole audit trail as FHIR R4 AuditEvent NDJSON."""
    audit.read(system, "audit.export")

    def lines() -> Iterator[str]:
        return export_ndjson(e for _, e in iter_audit_entries(system))

    return StreamingResponse(lines(), media_type="application/fhir+ndjson")


@router.get("/subjects/{pseudonym}/access-report")
def subject_access_report(
    pseudonym: Annotated[str, Path(pattern=PSEUDONYM_PATTERN)],
    system: SystemDep,
    principal: Director,
) -> dict[str, Any]:
    """Who accessed the chart, when, for what purpose, with what decision (HIPAA 164.528,
    42 CFR 2.24). Director's office only: a denial pattern can reveal a link."""
    system.subjects.get(pseudonym)
    audit.read(system, "subject.access_report", pseudonym)
    report = access_report((e for _, e in iter_audit_entries(system)), pseudonym)
    return {"pseudonym": pseudonym, "accesses": [_json(r) for r in report]}


