"""Dual-relationship cases [seed: Dual relationships, Policy development]: a disclosure
recorded by the staff member or the manager it was made to, referred to the Clinical Deputy,
County Counsel's guidance (or a recorded waiver), the Clinical Deputy's recommendation, the
Director's decision, its conditions met, closed; and the Clinical Deputy's queue.

Each step's role is checked twice on purpose: here (`require`, before anything is read) and in
the aggregate (the rule that names the step), so the rule holds whichever door a command
comes through.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status

from api import audit
from api.auth import Principal
from api.deps import PrincipalDep, SystemDep, require
from api.schemas.common import Written
from api.schemas.dual_relationships import (
    CaseCreated,
    CasePublic,
    DecisionCreate,
    DisclosureCreate,
    GuidanceCreate,
    QueueItem,
    QueuePage,
    QueueStep,
    RecommendationCreate,
    StepDate,
)
from domain.dual_relationships import Actor, Disclosure, rules
from domain.dual_relationships.rules import SEE_ALL, SEE_TEXT
from domain.errors import DataShredded, InvalidInput, NotFound
from ops.bootstrap import System
from projections.base import Row
from projections.dual_relationship_queue import DualRelationshipQueue, urgency, with_clock

router = APIRouter(prefix="/dual-relationships", tags=["dual-relationships"])
CaseId = Annotated[uuid.UUID, Path(description="The case id returned by the disclosure")]
ConditionNumber = Annotated[int, Path(ge=0, le=49, description="0-based, in the decision's order")]
Manager = Annotated[Principal, Depends(require("manager"))]
Counsel = Annotated[Principal, Depends(require("county_counsel", "clinical_deputy", "director"))]
Deputy = Annotated[Principal, Depends(require("clinical_deputy"))]
Director = Annotated[Principal, Depends(require("director"))]
Tracker = Annotated[Principal, Depends(require("manager", "clinical_deputy", "director"))]
Closer = Annotated[Principal, Depends(require("clinical_deputy", "director"))]
QueueReader = Annotated[
    Principal, Depends(require("clinical_deputy", "director", "manager", "county_counsel"))
]


def _today() -> date:
    return datetime.now(UTC).date()


def _actor(principal: Principal) -> Actor:
    return Actor(principal.staff_id, frozenset(principal.roles))


def _on(body: StepDate | None) -> date:
    """A step's date: today unless given, never in the future (due dates run from it)."""
    today = _today()
    if body is None or body.on is None:
        return today
    if body.on > today:
        raise InvalidInput(f"the step date {body.on} is after today ({today})")
    return body.on




# -- the disclosure -----------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CaseCreated)
def disclose(
    body: DisclosureCreate, system: SystemDep, principal: PrincipalDep, response: Response
) -> CaseCreated:
    """Record a disclosed relationship: by the staff member itself (naming the manager in
    `disclosed_to`) or by the manager it was disclosed to. For a counterpart known here by
    pseudonym, the case status and closing date come from its chart; the hire date comes
    from the staff record. The two-year rule's finding and any late report are recorded."""
    actor = _actor(principal)
    with audit.command("dual_relationship.disclose", body.staff_id):
        rules.require_discloser(actor, body.staff_id)
        disclosure = _disclosure(system, body, principal)
        case_id, position = system.dual_relationships.disclose(actor, disclosure, datetime.now(UTC))
    response.headers["Location"] = f"/dual-relationships/{case_id}"
    return CaseCreated(case_id=case_id, position=position)


def _disclosure(system: System, body: DisclosureCreate, principal: Principal) -> Disclosure:
    case_status, closed_on, unknown = _counterpart_case(system, body)
    return Disclosure(
        staff_id=body.staff_id,
        kind=body.kind,
        began_on=body.began_on,
        predates_hire=body.predates_hire,
        disclosed_on=body.disclosed_on or _today(),
        disclosed_to=_disclosed_to(system, body, principal),
        hired_on=system.staff.get(body.staff_id).hired_on,
        counterpart_case_status=case_status,
        counterpart_pseudonym=body.counterpart_pseudonym,
        counterpart_client_ref=body.counterpart_client_ref,
        counterpart_case_closed_on=closed_on,
        ended_on=body.ended_on,
        counterpart_unknown=unknown,
    )


def _counterpart_case(system: System, body: DisclosureCreate) -> tuple[str, date | None, bool]:
    """The chart of a subject known here says whether its case is open and when it closed;
    for another client the body says it. (The domain refuses both or neither counterpart.)
    A pseudonym that names no readable chart is taken as an open case and flagged for the
    Director's office and the Clinical Deputy only: the discloser is answered alike."""
    pseudonym, client_ref = body.counterpart_pseudonym, body.counterpart_client_ref
    if pseudonym is not None and client_ref is None:
        if body.counterpart_case_status is not None or body.counterpart_case_closed_on is not None:
            raise InvalidInput(
                "omit counterpart_case_status and counterpart_case_closed_on with"
                " counterpart_pseudonym: they come from the subject's chart"
            )
        try:
            chart = system.charts.get(pseudonym)
        except (NotFound, DataShredded):
            return "open", None, True
        return chart.status, chart.closed_on, False
    if client_ref is not None and pseudonym is None and body.counterpart_case_status is None:
        raise InvalidInput(
            "counterpart_case_status (open or closed) is required with counterpart_client_ref"
        )
    return body.counterpart_case_status or "", body.counterpart_case_closed_on, False


def _disclosed_to(system: System, body: DisclosureCreate, principal: Principal) -> str:
    """A manager recording someone's disclosure is the one it was made to; a staff member
    disclosing its own relationship names the manager it told."""
    if "manager" in principal.roles and principal.staff_id != body.staff_id:
        if body.disclosed_to not in (None, principal.staff_id):
            raise InvalidInput(
                "a manager records the disclosures made to them: omit disclosed_to"
                " or give your own staff id"
            )
        return principal.staff_id
    if body.disclosed_to is None:
        raise InvalidInput("disclosed_to (the manager told of the relationship) is required")
    if "manager" not in system.staff.get(body.disclosed_to).roles:
        raise InvalidInput(f"disclosed_to: staff member {body.disclosed_to} is not a manager")
    return body.disclosed_to


# -- the steps ----------------------------------------------------------------------------


@router.post("/{case_id}/referral", status_code=status.HTTP_201_CREATED, response_model=Written)
def refer(
    case_id: CaseId, system: SystemDep, principal: Manager, body: StepDate | None = None
) -> Written:
    """The manager refers the disclosure to the Clinical Deputy."""
    with audit.command("dual_relationship.refer", str(case_id)):
        position = system.dual_relationships.refer(case_id, _actor(principal), _on(body))
    return Written(position=position)


@router.post("/{case_id}/guidance", status_code=status.HTTP_201_CREATED, response_model=Written)
def guidance(
    case_id: CaseId, body: GuidanceCreate, system: SystemDep, principal: Counsel
) -> Written:
    """County Counsel records its `guidance`; or the Clinical Deputy or the Director's office
    records a waiver of it (`{"waived": true, "reason": ...}`) so the case can be decided."""
    actor, drs = _actor(principal), system.dual_relationships
    if body.waived:
        with audit.command("dual_relationship.waive_guidance", str(case_id)):
            position = drs.waive_guidance(case_id, actor, body.reason or "", _on(body))
    else:
        with audit.command("dual_relationship.guidance", str(case_id)):
            position = drs.record_guidance(case_id, actor, body.guidance or "", _on(body))
    return Written(position=position)


@router.post(
    "/{case_id}/recommendation", status_code=status.HTTP_201_CREATED, response_model=Written
)
def recommend(
    case_id: CaseId, body: RecommendationCreate, system: SystemDep, principal: Deputy
) -> Written:
    """The Clinical Deputy recommends a resolution (never `no_conflict` where the two-year
    rule prohibits the relationship: 422)."""
    with audit.command("dual_relationship.recommend", str(case_id)):
        position = system.dual_relationships.recommend(
            case_id, _actor(principal), body.outcome, body.rationale, _on(body)
        )
    return Written(position=position)


@router.post("/{case_id}/decision", status_code=status.HTTP_201_CREATED, response_model=Written)
def decide(
    case_id: CaseId, body: DecisionCreate, system: SystemDep, principal: Director
) -> Written:
    """The Director decides, once the recommendation and counsel's guidance (or its waiver)
    are recorded (else 409). `exception_with_conditions` needs conditions; `no_conflict` is
    refused where the two-year rule prohibits the relationship (422)."""
    with audit.command("dual_relationship.decide", str(case_id)):
        position = system.dual_relationships.decide(
            case_id, _actor(principal), body.outcome, list(body.conditions), _on(body),
            body.rationale,
        )
    return Written(position=position)


@router.post("/{case_id}/conditions/{n}/met", response_model=Written)
def condition_met(
    case_id: CaseId, n: ConditionNumber, system: SystemDep, principal: Tracker,
    body: StepDate | None = None,
) -> Written:
    """Condition `n` of the decision is met (manager, Clinical Deputy or Director's office)."""
    with audit.command("dual_relationship.condition_met", str(case_id)):
        position = system.dual_relationships.condition_met(case_id, n, _actor(principal), _on(body))
    return Written(position=position)


@router.post("/{case_id}/close", response_model=Written)
def close(
    case_id: CaseId, system: SystemDep, principal: Closer, body: StepDate | None = None
) -> Written:
    """Close a decided case whose conditions are all met."""
    with audit.command("dual_relationship.close", str(case_id)):
        position = system.dual_relationships.close_case(case_id, _actor(principal), _on(body))
    return Written(position=position)


# -- reads --------------------------------------------------------------------------------


@router.get("/{case_id}", response_model=CasePublic)
def get_case(case_id: CaseId, system: SystemDep, principal: PrincipalDep) -> CasePublic:
    """One case and its steps. Readers: the Director's office and the Clinical Deputy (every
    case), County Counsel (referred cases), the manager it was disclosed to or recorded by,
    and the staff member (its own). Counsel's guidance, a waiver's reason, the rationales
    and the two-year rule's finding are shown to the Director's office, Clinical Deputy and
    County Counsel only; everyone else gets null."""
    request = audit.this_request()
    request.action, request.target = "dual_relationship.read", str(case_id)
    actor = _actor(principal)
    case = system.dual_relationships.readable(case_id, actor)
    audit.read(system, "dual_relationship.read", str(case_id))
    return CasePublic.of(case, system.dual_relationships.policy, _today(),
                         case.shows_texts(actor))


@router.get("", response_model=QueuePage)
def queue(
    system: SystemDep,
    principal: QueueReader,
    case_status: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
    step: QueueStep | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    after: Annotated[int | None, Query(ge=0, description="wait for this position")] = None,
) -> QueuePage:
    """The Clinical Deputy's queue, most urgent first (overdue, then by due date). The
    Clinical Deputy and the Director's office see every case; County Counsel the cases
    awaiting its guidance; a manager the cases disclosed to, recorded or referred by it.
    `step=guidance` also matches cases waiting for guidance and a recommendation."""
    system.wait_for(after)
    today = _today()
    rows = [r for r in _queue_rows(system, today, case_status, overdue) if _at_step(r, step)]
    rows = _visible(system, rows, principal)
    page = rows[offset : offset + limit]
    audit.read(system, "dual_relationship.queue")
    findings = bool(principal.roles & SEE_TEXT)
    items = [QueueItem.model_validate({**{k: r[k] for k in QueueItem.model_fields},
                                       "prohibited": r["prohibited"] if findings else None})
             for r in page]
    more = offset + limit < len(rows)
    return QueuePage(items=items, next_offset=offset + limit if more else None)


def _at_step(row: Row, step: str | None) -> bool:
    return step is None or row["current_step"] == step or step in row["current_step"].split("_and_")


def _visible(system: System, rows: list[Row], principal: Principal) -> list[Row]:
    """A manager's share needs the case (who recorded it is not in the read model): it
    loads the cases it is shown; a `handled_by` column would spare that."""
    actor = _actor(principal)
    if actor.roles & SEE_ALL:
        return rows
    counsel, manager = "county_counsel" in actor.roles, "manager" in actor.roles
    drs = system.dual_relationships
    return [
        r for r in rows
        if (counsel and "guidance" in r["current_step"].split("_and_"))
        or (manager and actor.staff_id in drs.get(uuid.UUID(str(r["case_id"]))).handlers)
    ]


def _queue_rows(system: System, today: date, status: str | None, overdue: bool) -> list[Row]:
    if system.projections is not None:
        view = next(
            p for p in system.projections.projections if isinstance(p, DualRelationshipQueue)
        )
        return view.queue(system.projections.db, today, status=status, overdue_only=overdue)
    return _scanned(system, today, status, overdue)


def _scanned(system: System, today: date, status: str | None, overdue: bool) -> list[Row]:
    """Without read models (the in-memory backend): the queue's own fold over the log."""
    view = DualRelationshipQueue(system.dual_relationships.policy)
    folded = view.fold_all(system.events(view.topics))
    rows = [with_clock(r, today) for r in folded.values() if r is not None]
    kept = [
        r for r in rows
        if (status is None or r["closed"] == (status == "closed")) and (not overdue or r["overdue"])
    ]
    return sorted(kept, key=urgency)

