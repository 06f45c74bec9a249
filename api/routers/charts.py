"""Sequestered charts: read, write, close, reopen, and break-glass.

Every route asks the decision point (`system.chart_access`) before touching the chart
and records the deciding rule. A principal outside the Director's office and the
privacy office learns nothing from a pseudonym: an unknown one is refused exactly like
a chart it holds no grant for. Reads and writes are decided on grants, agreements and
break-glass only, never on the staff↔client link (`domain.access.policy`); break-glass
also checks the link rules, and a refusal by one reads as "sequestration" to everyone
but the Director's office (DESIGN §3 item 6).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from api import audit
from api.auth import Claimed, Principal
from api.deps import SystemDep, claims_for, reads_of, require
from api.schemas.access import BreakGlassCreate, BreakGlassCreated, Purpose
from api.schemas.charts import (
    AccessBasis,
    ChartClose,
    ChartPublic,
    ChartReopen,
    Closure,
    EntryCreate,
    EntryCreated,
    EntryPublic,
)
from api.schemas.common import PSEUDONYM_PATTERN, Written
from domain.access import policy
from domain.access.facts import Assessment, ChartAsk, UnknownSubject
from domain.access.policy import Decision, Target
from domain.audit.trail import AuditEntry
from domain.charts.aggregate import CLOSED
from domain.errors import InvalidInput, LinkRefusal, NotFound, PermissionDenied
from ops.bootstrap import System

router = APIRouter(prefix="/charts", tags=["charts"])
Pseudonym = Annotated[str, Path(pattern=PSEUDONYM_PATTERN)]
#: Roles that may hold a grant for some purpose of use; the grant itself decides.
READERS = ("clinician", "peer_staff", "clinical_deputy", "county_counsel", "auditor",
           "privacy_officer", "director")
#: A chart read's roles are settled in its decision's own query (no query of its own).
ReaderClaims = Annotated[Claimed, Depends(claims_for(*READERS))]
Writer = Annotated[Principal, Depends(require("clinician", "peer_staff"))]
Closer = Annotated[Principal, Depends(require("clinician", "director"))]
Clinician = Annotated[Principal, Depends(require("clinician"))]
#: Roles that may know whether a pseudonym exists (they enrol subjects or grant access).
KNOWS_PSEUDONYMS = frozenset({"director", "privacy_officer"})


def refuse(decision: Decision, principal: Principal) -> NoReturn:
    """Record the decision's rule, then deny (a link rule as the generic refusal)."""
    audit.this_request().decided = False
    if decision.rule in policy.LINK_RULES:
        raise LinkRefusal(decision.rule, decision.explanation)
    raise PermissionDenied(decision.rule, decision.explanation)


def at_stake(principal: Principal | Claimed, action: str, pseudonym: str, purpose: str,
             audit_action: str, with_chart: bool = False) -> ChartAsk:
    """Tell the request's audit record what is at stake first (so a refusal is recorded
    against the chart and purpose); the read or write to decide on. Claimed roles are
    settled in the decision's query."""
    a = audit.this_request()
    a.action, a.target, a.purpose = audit_action, pseudonym, purpose
    needed = frozenset(READERS) if isinstance(principal, Claimed) else None
    return ChartAsk(policy.Principal(principal.staff_id, principal.roles), action, pseudonym,
                    purpose, datetime.now(UTC), with_chart=with_chart, roles_needed=needed)


def settled(principal: policy.Principal | None) -> Principal:
    """The principal as decided on, told to the request's audit record."""
    assert principal is not None, "an assessment names its principal"
    audit.this_request().roles = sorted(principal.roles)
    return Principal(principal.staff_id, principal.roles)


def refuse_unknown(e: NotFound, principal: Principal, ask: ChartAsk) -> NoReturn:
    """For most roles an unknown pseudonym is refused exactly like a missing grant."""
    if principal.roles & KNOWS_PSEUDONYMS:
        raise e
    refuse(policy.deny_without_grant(ask.action, Target(ask.pseudonym, ask.purpose), [],
                                     ask.now), principal)


def assess(system: System, principal: Principal, action: str, pseudonym: str, purpose: str,
           audit_action: str) -> Assessment:
    """The subject and the access decision."""
    ask = at_stake(principal, action, pseudonym, purpose, audit_action)
    try:
        assessed = system.chart_access.assess_decision(ask.principal, action, pseudonym, purpose,
                                                       ask.now)
    except NotFound as e:
        refuse_unknown(e, principal, ask)
    audit.this_request().decided = assessed.decision.allowed
    return assessed


def authorize(system: System, principal: Principal, action: str, pseudonym: str, purpose: str,
              audit_action: str) -> Assessment:
    """An allowed assessment, or a refusal naming its (public) rule."""
    assessed = assess(system, principal, action, pseudonym, purpose, audit_action)
    if not assessed.decision.allowed:
        refuse(assessed.decision, principal)
    return assessed


def not_after_today(day: date, what: str) -> date:
    today = datetime.now(UTC).date()
    if day > today:
        raise InvalidInput(f"the {what} {day} is after today ({today})")
    return day


@router.get("/{pseudonym}", response_model=ChartPublic)
async def read_chart(
    pseudonym: Pseudonym, claimed: ReaderClaims, request: Request,
    purpose: Annotated[Purpose, Query(description="HL7 PurposeOfUse")] = "TREAT",
) -> Response:
    """The chart's status and current entries, notes included, for a principal whose
    grant (or live break-glass, with purpose ETREAT or BTG) allows the read."""
    ask = at_stake(claimed, "read", pseudonym, purpose, "chart.read", with_chart=True)
    a = audit.this_request()

    def entry_of(assessed: Assessment) -> AuditEntry | None:
        """The read's audit record, committed before it answers (if it is allowed)."""
        if not assessed.decision.allowed or assessed.chart is None:
            return None
        a.roles = sorted(assessed.principal.roles) if assessed.principal else []
        a.rule = assessed.decision.rule
        return a.entry("allowed", "200")

    try:  # (refused as not on staff, or by role: the error handler records the rule)
        assessed = await reads_of(request).run(ask, entry_of)
    except UnknownSubject as e:
        refuse_unknown(e, settled(e.principal), ask)
    principal = settled(assessed.principal)
    decision, chart = assessed.decision, assessed.chart
    a.decided = decision.allowed
    if not decision.allowed:
        refuse(decision, principal)
    if chart is None:
        raise NotFound(f"chart {pseudonym} does not exist")
    a.stored = True
    # Built from the domain's own typed values and serialized once: validating a long
    # chart's entries again (and again in FastAPI's response check) cost more than
    # reading it. The schema tests hold the body to ChartPublic.
    body = ChartPublic.model_construct(
        pseudonym=chart.pseudonym, status="closed" if chart.status == CLOSED else "open",
        opened_on=chart.opened_on,
        closed_on=chart.closed_on,
        closures=[Closure.model_construct(closed_on=c["closed_on"], reopened_on=c["reopened_on"])
                  for c in chart.closures],
        entries=[EntryPublic.model_construct(
            entry_id=e.entry_id, author=e.author, activity_type=e.activity_type,
            service_code=e.service_code, service_date=e.service_date, note=e.note,
            recorded_at=e.recorded_at, corrects=e.corrects,
        ) for e in chart.current_entries()],
        access=AccessBasis(rule=decision.rule, purpose=purpose, grant_id=decision.grant_id,
                           break_glass=decision.break_glass,
                           break_glass_id=decision.break_glass_id),
    )
    return Response(body.model_dump_json(), media_type="application/json")


@router.post("/{pseudonym}/entries", status_code=status.HTTP_201_CREATED,
             response_model=EntryCreated)
def add_entry(pseudonym: Pseudonym, body: EntryCreate, system: SystemDep, principal: Writer,
              response: Response) -> EntryCreated:
    """Append an entry (a correction names the entry it corrects). Needs write access and
    a job title that charts; self-help and 12-step activities are never charted."""
    decision = authorize(system, principal, "write", pseudonym, body.purpose, "chart.write").decision
    try:
        author = system.staff.get(principal.staff_id)
    except NotFound:
        raise PermissionDenied(
            "not_staff", "only a staff member on the roster may author chart entries"
        ) from None
    with audit.command("chart.write", pseudonym, rule=decision.rule):
        entry_id, position = system.charts.add_entry(
            pseudonym, principal.staff_id, author.charts, body.activity_type,
            body.service_code, body.service_date, body.note, datetime.now(UTC),
            corrects=body.corrects,
        )
    response.headers["Location"] = f"/charts/{pseudonym}"
    return EntryCreated(entry_id=entry_id, position=position)


def authorize_closing(system: System, principal: Principal, pseudonym: str, purpose: str,
                      audit_action: str) -> str:
    """The Director's office closes and reopens any chart; a clinician needs write access."""
    if "director" in principal.roles:
        a = audit.this_request()
        a.action, a.target, a.purpose = audit_action, pseudonym, purpose
        return "role"
    return authorize(system, principal, "write", pseudonym, purpose, audit_action).decision.rule


@router.post("/{pseudonym}/close", response_model=Written)
def close_chart(pseudonym: Pseudonym, body: ChartClose, system: SystemDep,
                principal: Closer) -> Written:
    """Close the chart; its closing date drives the dual-relationship two-year rule."""
    rule = authorize_closing(system, principal, pseudonym, body.purpose, "chart.close")
    not_after_today(body.closed_on, "closing date")
    with audit.command("chart.close", pseudonym, rule=rule):
        position = system.charts.close_chart(pseudonym, body.closed_on, principal.staff_id)
    return Written(position=position)


@router.post("/{pseudonym}/reopen", response_model=Written)
def reopen_chart(pseudonym: Pseudonym, body: ChartReopen, system: SystemDep,
                 principal: Closer) -> Written:
    """Reopen a closed chart, with a reason; the earlier closing date is kept."""
    rule = authorize_closing(system, principal, pseudonym, body.purpose, "chart.reopen")
    not_after_today(body.reopened_on, "reopening date")
    with audit.command("chart.reopen", pseudonym, rule=rule):
        position = system.charts.reopen(
            pseudonym, body.reopened_on, principal.staff_id, body.reason
        )
    return Written(position=position)


@router.post("/{pseudonym}/break-glass", status_code=status.HTTP_201_CREATED,
             response_model=BreakGlassCreated)
def break_glass(pseudonym: Pseudonym, body: BreakGlassCreate, system: SystemDep,
                principal: Clinician, response: Response) -> BreakGlassCreated:
    """Emergency access (ETREAT or BTG) with a reason, for a clinician whose job title
    charts: time-limited, flagged, and queued for the privacy officer's review. It never
    passes a deny rule, and not after a use was found inappropriate until the privacy
    officer lifts the block."""
    ask = at_stake(principal, "read", pseudonym, body.purpose, "break_glass.invoke")
    try:
        subject, decision = system.chart_access.break_glass(ask.principal, pseudonym,
                                                            body.purpose, ask.now)
    except NotFound as e:
        refuse_unknown(e, principal, ask)
    audit.this_request().decided = decision.allowed
    if not decision.allowed:
        refuse(decision, principal)
    with audit.command("break_glass.invoke", pseudonym, rule=policy.RULE_BREAK_GLASS):
        break_glass_id, position = system.access.invoke_break_glass(
            principal.staff_id, pseudonym, subject.id, body.purpose, body.reason,
            datetime.now(UTC), actor_roles=principal.roles,
        )
    invocation = system.access.get_break_glass(break_glass_id)
    response.headers["Location"] = f"/break-glass/{break_glass_id}"
    return BreakGlassCreated(break_glass_id=break_glass_id, expires_at=invocation.expires_at,
                             position=position)
