"""The audit trail as FHIR R4 AuditEvent resources (NDJSON), for auditors' tools.

Each resource is built from one audit entry (`AuditEntry.public()`) and fixed
terminology only: every value in it is either a code of a published code system or
one of the entry's own values, so the export discloses nothing the audit trail does
not already hold (and, like the trail, never the Director's note).

Codings: DICOM 110110 "Patient Record" for actions on a subject's chart or record,
DICOM 110101 "Audit Log Used" for reads of the audit trail itself, the FHIR
audit-event-type `rest` for HTTP requests, DICOM 110100 "Application Activity" for the
rest; the action verb gives the C/R/U/D/E code; the purpose of use is an HL7 v3
PurposeOfUse code (code system v3-ActReason).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Any
from urllib.parse import quote

from domain.audit.report import entry_time
from domain.errors import InvalidInput
from domain.subjects.pseudonym import check_pseudonym

DCM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
PURPOSE_OF_USE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
SECURITY_ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ACTION_SYSTEM = "urn:sequester:audit-action"
ROLE_SYSTEM = "urn:sequester:role"
STAFF_SYSTEM = "urn:sequester:staff-id"
PSEUDONYM_SYSTEM = "urn:sequester:pseudonym"
OBSERVER = "sequester"

PATIENT_RECORD = {"system": DCM, "code": "110110", "display": "Patient Record"}
AUDIT_LOG_USED = {"system": DCM, "code": "110101", "display": "Audit Log Used"}
APPLICATION_ACTIVITY = {"system": DCM, "code": "110100", "display": "Application Activity"}
REST = {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}
#: Action families (the part of `action` before the dot) about a subject's record.
PATIENT_RECORD_FAMILIES = frozenset({"chart", "subject", "subjects", "charts", "break_glass"})

OUTCOMES = {"allowed": "0", "denied": "4", "failed": "8"}
#: Verb (the part of `action` after the last dot) → AuditEvent.action; anything else is E.
_VERBS = {
    "C": "create add open enrol file hire record disclose invoke grant sign write",
    "R": "read get list view search resolve export replay report query verify checkpoint proof",
    "U": "update close reopen revoke review assign change decide decline offer refer recommend "
    "separate rotate",
    "D": "delete remove shred",
}
ACTION_CODES = {verb: code for code, verbs in _VERBS.items() for verb in verbs.split()}
HTTP_METHOD_CODES = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
PURPOSE_DISPLAYS = {
    "TREAT": "treatment",
    "ETREAT": "Emergency Treatment",
    "BTG": "break the glass",
    "CAREMGT": "care management",
    "COC": "coordination of care",
    "HOPERAT": "healthcare operations",
    "HPAYMT": "healthcare payment",
    "HLEGAL": "legal",
    "HCOMPL": "compliance",
}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _family_and_verb(action: str) -> tuple[str, str]:
    family, _, verb = action.rpartition(".")
    return family.split(".")[0], verb


def event_type(action: str) -> dict[str, str]:
    family, _ = _family_and_verb(action)
    if family == "http":
        return dict(REST)
    if family == "audit":
        return dict(AUDIT_LOG_USED)
    if family in PATIENT_RECORD_FAMILIES:
        return dict(PATIENT_RECORD)
    return dict(APPLICATION_ACTIVITY)


def action_code(action: str, target: str) -> str:
    """C/R/U/D/E from the verb; for an HTTP request, from the method of its route."""
    family, verb = _family_and_verb(action)
    if family == "http":
        method = target.split(" ", 1)[0].upper()
        return HTTP_METHOD_CODES.get(method, "E")
    return ACTION_CODES.get(verb.lower(), "E")


def _record_id(entry: dict[str, Any]) -> str:
    record_id = str(entry.get("record_id", ""))
    if _FHIR_ID.fullmatch(record_id) is None:
        raise InvalidInput("an audit entry needs a record id (a UUID) to be exported")
    return record_id


def _instant(entry: dict[str, Any]) -> str:
    """A FHIR instant: UTC, with the Z designator."""
    return entry_time(entry).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _uri(value: str) -> str:
    """A request id as a FHIR uri (no whitespace); ordinary ids pass unchanged."""
    return quote(value, safe=":/-._~@!$&'()*+,;=?#[]%")


def _outcome_desc(entry: dict[str, Any]) -> str:
    rule, outcome = str(entry.get("rule", "")), str(entry.get("outcome") or "")
    return f"{rule} ({outcome})" if rule and outcome else rule or outcome


def _purpose(purpose: str) -> dict[str, Any]:
    coding = {"system": PURPOSE_OF_USE, "code": purpose}
    if purpose in PURPOSE_DISPLAYS:
        coding["display"] = PURPOSE_DISPLAYS[purpose]
    return {"coding": [coding]}


def _agent(entry: dict[str, Any]) -> dict[str, Any]:
    principal = str(entry.get("principal") or "anonymous")
    who: dict[str, Any] = {"identifier": {"value": principal}}
    if principal != "anonymous":
        who["identifier"]["system"] = STAFF_SYSTEM
    agent: dict[str, Any] = {
        "type": {
            "coding": [{"system": SECURITY_ROLE_TYPE, "code": "humanuser", "display": "human user"}]
        },
        "who": who,
        "requestor": True,
    }
    roles = [str(r) for r in entry.get("roles") or []]
    if roles:
        agent["role"] = [{"coding": [{"system": ROLE_SYSTEM, "code": r}]} for r in roles]
    if entry.get("request_id"):
        agent["policy"] = [_uri(str(entry["request_id"]))]
    if entry.get("purpose"):
        agent["purposeOfUse"] = [_purpose(str(entry["purpose"]))]
    return agent


def _source() -> dict[str, Any]:
    return {
        "observer": {"display": OBSERVER},
        "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
    }


def _is_pseudonym(target: str) -> bool:
    try:
        return check_pseudonym(target) == target
    except InvalidInput:
        return False


def _entity(target: str) -> dict[str, Any]:
    """A pseudonym is a person (the patient role); anything else a system object."""
    if _is_pseudonym(target):
        return {
            "what": {"identifier": {"system": PSEUDONYM_SYSTEM, "value": target}},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        }
    return {
        "what": {"identifier": {"value": target}},
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
    }


def to_fhir_audit_event(entry: dict[str, Any]) -> dict[str, Any]:
    """One audit entry as a FHIR R4 AuditEvent resource (a JSON-ready dict)."""
    decision = entry.get("decision")
    if decision not in OUTCOMES:
        raise InvalidInput(f"an audit entry's decision must be one of {list(OUTCOMES)}")
    action, target = str(entry.get("action", "")), str(entry.get("target") or "")
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": _record_id(entry),
        "type": event_type(action),
        "action": action_code(action, target),
        "recorded": _instant(entry),
        "outcome": OUTCOMES[decision],
        "agent": [_agent(entry)],
        "source": _source(),
    }
    if action:
        resource["subtype"] = [{"system": ACTION_SYSTEM, "code": action}]
    if description := _outcome_desc(entry):
        resource["outcomeDesc"] = description
    if entry.get("purpose"):
        resource["purposeOfEvent"] = [_purpose(str(entry["purpose"]))]
    if target:
        resource["entity"] = [_entity(target)]
    return resource


def export_ndjson(entries: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One AuditEvent per line, each ending in a newline, in the order given: the lines
    can be streamed as they come and joined into a valid NDJSON file."""
    for entry in entries:
        resource = to_fhir_audit_event(entry)
        yield json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n"
