"""Replay: any aggregate as it was at a time or a version (DESIGN §3 item 4).

An auditor asks for a kind (`chart`) and the id the rest of the system shows for it
(a pseudonym, a staff id, a UUID); replay finds the aggregate, folds its events up to
the version asked for (or the last one recorded at or before the time asked for) and
returns its attributes as plain JSON values.

Replayed state is protected data, so a replay shows each role no more than its own
routes show it: every field is either public to replay callers or in a group that is
redacted unless the caller reveals it (`reveal_for(roles)`), and an attribute that is in
neither is redacted for everyone. Redaction is the default, never an afterthought of the
route.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, AggregateEvent

from domain.access.grants import BreakGlass, Grant
from domain.accommodations.aggregate import AccommodationRequest
from domain.audit.trail import AuditRecord
from domain.base import ContextApplication
from domain.charts.aggregate import Chart, chart_uuid
from domain.dual_relationships.aggregate import DualRelationshipCase
from domain.errors import InvalidInput, NotFound
from domain.staff.aggregate import StaffMember, staff_uuid
from domain.subjects.identity import IdentityRecord, identity_uuid
from domain.subjects.pseudonym import check_pseudonym
from domain.subjects.subject import Subject, subject_uuid

REDACTED = "[redacted]"
MAX_STAFF_ID = 100
MAX_UUID_TEXT = 45  # "urn:uuid:" and 36 characters

#: Field groups a caller may reveal; everything in them is redacted by default.
IDENTITY, LINK, MEDICAL, NOTES = "identity", "link", "medical", "notes"
SUBJECT, ORG, CASE, GRANT_TEXT = "subject", "org", "case", "grant_text"
CLINICAL, USE_TEXT = "clinical", "use_text"
REVEAL_GROUPS = frozenset(
    {IDENTITY, LINK, MEDICAL, NOTES, SUBJECT, ORG, CASE, GRANT_TEXT, CLINICAL, USE_TEXT}
)
#: What each role's replay reveals: no more than its own routes show it. The Director's
#: office sees identities, links, subjects' labels and groups, supervisors, dual-
#: relationship cases and grant justifications (its queues); an auditor sees none of
#: them. Notes, clinical codes, medical files and break-glass reasons are shown by no
#: replay (their readers' own routes show them, each access-checked and audited).
REVEALED_TO = {"director": frozenset({IDENTITY, LINK, SUBJECT, ORG, CASE, GRANT_TEXT})}

_STEPS = ("referral", "guidance", "guidance_waiver", "recommendation", "decision", "closure")
_DISCLOSED = ("kind", "began_on", "ended_on", "predates_hire", "hired_on",
              "counterpart_case_status", "counterpart_pseudonym", "counterpart_client_ref",
              "counterpart_case_closed_on", "counterpart_unknown")

#: Per aggregate class: the attributes shown to every caller, and (group, path) of every
#: field shown only with its group revealed ("*" walks a list). An attribute in neither
#: is redacted for everyone: a new field is hidden until someone decides otherwise.
PUBLIC: dict[type[Aggregate], frozenset[str]] = {
    StaffMember: frozenset({"staff_id", "display_name", "job_title", "roles", "hired_on",
                            "separated_on", "agreements"}),
    Subject: frozenset({"pseudonym", "enrolled_on"}),
    IdentityRecord: frozenset({"pseudonym", "subject_id"}),
    Chart: frozenset({"pseudonym", "subject_id", "status", "opened_on", "closures", "entries"}),
    Grant: frozenset({"grantee", "pseudonym", "subject_id", "scope", "purpose", "expires_at",
                      "granted_at", "granted_by", "revoked_at", "revoked_by", "confirmed_at",
                      "confirmed_by", "declined_at", "declined_by"}),
    BreakGlass: frozenset({"clinician", "pseudonym", "subject_id", "purpose", "invoked_at",
                           "expires_at", "flagged", "reviewed_at", "reviewed_by",
                           "review_outcome"}),
    DualRelationshipCase: frozenset({"disclosure", *_STEPS, "conditions", "days_late",
                                     "lookback_months", "recorded_as", "recorded_at",
                                     "recorded_by", "report_within_days"}),
    AccommodationRequest: frozenset({"employee_id", "filed_on", "status", "notes"}),
    AuditRecord: frozenset({"entry"}),
}
REDACTIONS: dict[type[Aggregate], tuple[tuple[str, tuple[str, ...]], ...]] = {
    StaffMember: ((ORG, ("supervisor_id",)),),
    IdentityRecord: (
        (IDENTITY, ("legal_name",)),
        (IDENTITY, ("birth_date",)),
        (IDENTITY, ("staff_id",)),
    ),
    Subject: (
        (LINK, ("staff_link",)),
        *((SUBJECT, (name,)) for name in ("category", "labels", "groups", "clinicians")),
    ),
    Chart: (
        (NOTES, ("entries", "*", "note")),
        (NOTES, ("closures", "*", "reopen_reason")),
        (CLINICAL, ("entries", "*", "activity_type")),
        (CLINICAL, ("entries", "*", "service_code")),
    ),
    Grant: tuple((GRANT_TEXT, (name,))
                 for name in ("justification", "decline_reason", "revocation_reason")),
    BreakGlass: ((USE_TEXT, ("reason",)), (USE_TEXT, ("review_notes",))),
    DualRelationshipCase: (
        *((CASE, ("disclosure", name)) for name in _DISCLOSED),
        *((CASE, (step, "text")) for step in _STEPS),
        (CASE, ("conditions", "*", "text")),
        (CASE, ("prohibited",)),
        (CASE, ("prohibition_reason",)),
    ),
    AccommodationRequest: (
        *((MEDICAL, (name,)) for name in ("condition", "functions_affected", "decision",
                                          "declines", "requested", "offers")),
        (MEDICAL, ("notes", "*", "text")),
    ),
}
IDENTITY_FIELDS = frozenset({"id", "version", "created_on", "modified_on"})


def reveal_for(roles: Iterable[str]) -> frozenset[str]:
    """The field groups a principal's replays reveal."""
    return frozenset().union(*(REVEALED_TO.get(role, frozenset()) for role in roles))


def _staff_id(value: str) -> str:
    """A staff id as the staff context stores it; the message never echoes the input."""
    if not value.strip() or len(value) > MAX_STAFF_ID or not value.isprintable():
        raise InvalidInput(
            f"malformed staff id: a staff id is 1 to {MAX_STAFF_ID} printable characters"
        )
    return value.strip()


def _uuid(value: str) -> str:
    """The canonical form of a UUID id; anything longer than one is refused unread."""
    malformed = InvalidInput(
        "malformed id: this kind is identified by a UUID such as "
        "3f2b8c1e-9d4a-4c7b-8e2f-1a2b3c4d5e6f"
    )
    if len(value) > MAX_UUID_TEXT:
        raise malformed
    try:
        return str(UUID(value))
    except ValueError:
        raise malformed from None


@dataclass(frozen=True)
class ReplayKind:
    """How a public id names an aggregate, which application owns it, and its class."""

    what: str  # words for messages: "chart", "staff member"
    canonical: Callable[[str], str]  # validates the public id; never echoes it
    aggregate_id: Callable[[str], UUID]  # from the canonical public id
    application: str  # the attribute of `System` holding the owning application
    aggregate_class: type[Aggregate]


KINDS: dict[str, ReplayKind] = {
    "staff": ReplayKind("staff member", _staff_id, staff_uuid, "staff", StaffMember),
    "subject": ReplayKind("subject", check_pseudonym, subject_uuid, "subjects", Subject),
    "identity": ReplayKind(
        "identity record", check_pseudonym, identity_uuid, "subjects", IdentityRecord
    ),
    "chart": ReplayKind("chart", check_pseudonym, chart_uuid, "charts", Chart),
    "grant": ReplayKind("grant", _uuid, UUID, "access", Grant),
    "break_glass": ReplayKind("break-glass", _uuid, UUID, "access", BreakGlass),
    "dual_relationship": ReplayKind(
        "dual-relationship case", _uuid, UUID, "dual_relationships", DualRelationshipCase
    ),
    "accommodation": ReplayKind(
        "accommodation request", _uuid, UUID, "accommodations", AccommodationRequest
    ),
    "audit_record": ReplayKind("audit record", _uuid, UUID, "audit", AuditRecord),
}


@dataclass(frozen=True)
class ReplayResult:
    """One aggregate at one version; `as_of` is the time asked for, if any."""

    kind: str
    id: str
    version: int
    as_of: datetime | None
    state: dict[str, Any]

    def public(self) -> dict[str, Any]:
        """JSON-ready, for the API and the CLI."""
        as_of = None if self.as_of is None else self.as_of.isoformat()
        return {
            "kind": self.kind,
            "id": self.id,
            "version": self.version,
            "as_of": as_of,
            "state": self.state,
        }


def replay(
    system: Any,
    kind: str,
    public_id: str | UUID,
    *,
    as_of: datetime | None = None,
    version: int | None = None,
    reveal: Iterable[str] = (),
) -> ReplayResult:
    """The aggregate named by `kind` and `public_id`, at `version`, or as it stood at
    `as_of`, or now; redacted except for the field groups in `reveal`."""
    spec = kind_of(kind)
    groups = check_reveal(reveal)
    if as_of is not None and version is not None:
        raise InvalidInput("give either as_of or version, not both")
    if as_of is not None:
        check_as_of(as_of)
    canonical = spec.canonical(str(public_id))
    app = application_for(system, spec)
    aggregate_id = spec.aggregate_id(canonical)
    label = f"{spec.what} {canonical}"
    latest = latest_version(app, aggregate_id, label)
    if as_of is not None:
        wanted = version_at(app, aggregate_id, as_of, label)
    else:
        wanted = check_version(version, latest, label)
    aggregate = app.load(aggregate_id, label, wanted)
    if not isinstance(aggregate, spec.aggregate_class):
        raise NotFound(f"{label} does not exist")
    state = redact(aggregate, aggregate_state(aggregate), groups)
    return ReplayResult(kind, canonical, aggregate.version, as_of, state)


def kind_of(kind: str) -> ReplayKind:
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise InvalidInput(f"unknown kind; known kinds are {sorted(KINDS)}")
    return spec


def check_reveal(reveal: Iterable[str]) -> frozenset[str]:
    groups = frozenset(reveal)
    if not groups <= REVEAL_GROUPS:
        raise InvalidInput(
            f"unknown field group to reveal; known groups are {sorted(REVEAL_GROUPS)}"
        )
    return groups


def check_as_of(as_of: datetime) -> datetime:
    if not isinstance(as_of, datetime) or as_of.utcoffset() is None:
        raise InvalidInput("as_of must be a timezone-aware date and time (ISO 8601 with offset)")
    return as_of


def check_version(version: int | None, latest: int, label: str) -> int:
    if version is None:
        return latest
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidInput("version must be a whole number from 1")
    if version > latest:  # (never how many there are: that would answer for any id)
        raise NotFound(f"{label} has no version {version}")
    return version


def application_for(system: Any, spec: ReplayKind) -> ContextApplication:
    app = getattr(system, spec.application, None)
    if not isinstance(app, ContextApplication):
        raise TypeError(f"the system has no {spec.application} application")
    return app


def latest_version(app: ContextApplication, aggregate_id: UUID, label: str) -> int:
    """From the stored rows alone: no decryption needed to know how far history goes."""
    rows = app.recorder.select_events(aggregate_id, desc=True, limit=1)
    if not rows:
        raise NotFound(f"{label} does not exist")
    return rows[0].originator_version


def version_at(app: ContextApplication, aggregate_id: UUID, as_of: datetime, label: str) -> int:
    """The last version whose event was recorded at or before `as_of`."""
    found: int | None = None
    for domain_event in app.events.get(aggregate_id):
        if not isinstance(domain_event, AggregateEvent) or domain_event.timestamp > as_of:
            break
        found = domain_event.originator_version
    if found is None:
        raise NotFound(f"{label} did not exist at {as_of.isoformat()}")
    return found


def aggregate_state(aggregate: Aggregate) -> dict[str, Any]:
    """Every public attribute as JSON values, with the aggregate's identity first."""
    state: dict[str, Any] = {
        "id": str(aggregate.id),
        "version": aggregate.version,
        "created_on": aggregate.created_on.isoformat(),
        "modified_on": aggregate.modified_on.isoformat(),
    }
    for name, value in vars(aggregate).items():
        if not name.startswith("_"):
            state[name] = to_json(value)
    return state


def to_json(value: Any) -> Any:
    """Plain JSON: dates and times as ISO strings, UUIDs as strings, records as objects."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return to_json(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_json(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return str(value)


def redact(aggregate: Aggregate, state: dict[str, Any], reveal: frozenset[str]) -> dict[str, Any]:
    """Replace every field of an unrevealed group by `REDACTED`, even when empty
    (whether a subject has a staff link at all is itself the secret), and every
    attribute its class does not list at all."""
    for cls, rules in REDACTIONS.items():
        if isinstance(aggregate, cls):
            for group, path in rules:
                if group not in reveal:
                    _redact_path(state, path)
    grouped = {path[0] for rules in REDACTIONS.values() for _, path in rules}
    for cls, public in PUBLIC.items():
        if isinstance(aggregate, cls):
            for name in state.keys() - public - IDENTITY_FIELDS:
                if name not in grouped or not _revealed(cls, name, reveal):
                    state[name] = REDACTED
    return state


def _revealed(cls: type[Aggregate], name: str, reveal: frozenset[str]) -> bool:
    """Whether a top-level attribute belongs to a revealed group of its class."""
    return any(path == (name,) and group in reveal for group, path in REDACTIONS.get(cls, ()))


def _redact_path(node: Any, path: tuple[str, ...]) -> None:
    head, rest = path[0], path[1:]
    if head == "*":
        for item in node if isinstance(node, list) else ():
            _redact_path(item, rest)
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _redact_path(node[head], rest)
    else:
        node[head] = REDACTED
