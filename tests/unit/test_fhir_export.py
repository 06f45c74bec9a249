"""The audit trail as FHIR R4 AuditEvent resources: valid, faithful, and nothing more."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from domain.audit.fhir import (
    PATIENT_RECORD,
    PURPOSE_OF_USE,
    REST,
    export_ndjson,
    to_fhir_audit_event,
)
from domain.audit.report import iter_audit_entries
from domain.audit.trail import AuditEntry
from domain.errors import InvalidInput
from ops.bootstrap import System

AT = datetime(2024, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
PSEUDONYM = "SQ-7F3K-Q9XM"


def entry(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "principal": "CLIN-1",
        "roles": ["clinician", "peer_staff"],
        "action": "chart.read",
        "target": PSEUDONYM,
        "decision": "allowed",
        "rule": "grant",
        "at": AT,
        "request_id": "req-7",
        "purpose": "TREAT",
        "outcome": "200",
        "record_id": UUID("7d0b8f0e-2b7c-4a55-9c61-3f1f0c1b2a3d"),
    }
    fields.update(changes)
    return AuditEntry(**fields).public()


def validated(resource: dict[str, Any]) -> AuditEvent:
    return AuditEvent.model_validate(resource)


VARIANTS = {
    "allowed": entry(),
    "denied": entry(decision="denied", rule="sequestration", outcome="Forbidden"),
    "failed": entry(decision="failed", rule="error", outcome="500"),
    "no_purpose": entry(purpose=None),
    "no_target": entry(target="", action="staff.create"),
    "no_request_id": entry(request_id="", outcome=""),
    "anonymous_http": entry(
        principal="anonymous",
        roles=[],
        action="http.request",
        target="GET /charts/SQ-7F3K-Q9XM",
        decision="denied",
        rule="authentication",
        purpose=None,
    ),
    "other_zone": entry(at=datetime(2024, 3, 1, 4, 30, tzinfo=timezone(timedelta(hours=-8)))),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_resource_validates_as_an_r4_audit_event(name: str) -> None:
    resource = to_fhir_audit_event(VARIANTS[name])
    model = validated(resource)
    assert model.get_resource_type() == "AuditEvent"
    # Nothing was dropped or coerced on the way: the model gives back the same resource.
    assert json.loads(model.model_dump_json(exclude_none=True, by_alias=True)) == resource


@pytest.mark.parametrize(("decision", "code"), [("allowed", "0"), ("denied", "4"), ("failed", "8")])
def test_the_decision_is_the_outcome(decision: str, code: str) -> None:
    assert to_fhir_audit_event(entry(decision=decision))["outcome"] == code


def test_an_unknown_decision_is_refused() -> None:
    broken = entry()
    broken["decision"] = "maybe"
    with pytest.raises(InvalidInput, match="decision"):
        to_fhir_audit_event(broken)


def test_the_public_rule_and_outcome_describe_the_outcome() -> None:
    denied = to_fhir_audit_event(VARIANTS["denied"])
    assert denied["outcomeDesc"] == "sequestration (Forbidden)"
    assert to_fhir_audit_event(entry(outcome=""))["outcomeDesc"] == "grant"


def test_the_record_id_and_time_are_kept() -> None:
    resource = to_fhir_audit_event(entry())
    assert resource["id"] == "7d0b8f0e-2b7c-4a55-9c61-3f1f0c1b2a3d"
    assert resource["recorded"] == "2024-03-01T12:30:15.250000Z"


def test_a_time_in_another_zone_is_recorded_in_utc() -> None:
    assert to_fhir_audit_event(VARIANTS["other_zone"])["recorded"] == "2024-03-01T12:30:00Z"


def test_a_chart_action_is_a_patient_record_event() -> None:
    resource = to_fhir_audit_event(entry())
    assert resource["type"] == PATIENT_RECORD
    assert resource["subtype"] == [{"system": "urn:sequester:audit-action", "code": "chart.read"}]


def test_an_http_request_is_a_rest_event_with_the_methods_action() -> None:
    resource = to_fhir_audit_event(VARIANTS["anonymous_http"])
    assert resource["type"] == REST and resource["action"] == "R"
    post = to_fhir_audit_event(entry(action="http.request", target="POST /grants"))
    assert post["action"] == "C"


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("chart.write", "C"),
        ("chart.read", "R"),
        ("grant.revoke", "U"),
        ("subject.resolve", "R"),
        ("keys.shred", "D"),
        ("audit.export", "R"),
        ("staff.create", "C"),
        ("chart.frobnicate", "E"),
    ],
)
def test_the_verb_gives_the_action_code(action: str, code: str) -> None:
    assert to_fhir_audit_event(entry(action=action))["action"] == code


def test_the_purpose_is_an_hl7_purpose_of_use() -> None:
    resource = to_fhir_audit_event(entry())
    coding = resource["purposeOfEvent"][0]["coding"][0]
    assert coding["system"] == PURPOSE_OF_USE and coding["code"] == "TREAT"


def test_without_a_purpose_there_is_no_purpose_of_event() -> None:
    assert "purposeOfEvent" not in to_fhir_audit_event(VARIANTS["no_purpose"])


def test_the_agent_is_the_requesting_principal_with_its_roles() -> None:
    agent = to_fhir_audit_event(entry())["agent"]
    assert len(agent) == 1 and agent[0]["requestor"] is True
    assert agent[0]["who"]["identifier"]["value"] == "CLIN-1"
    assert [r["coding"][0]["code"] for r in agent[0]["role"]] == ["clinician", "peer_staff"]
    assert agent[0]["policy"] == ["req-7"]


def test_an_anonymous_agent_has_no_roles_or_staff_system() -> None:
    agent = to_fhir_audit_event(VARIANTS["anonymous_http"])["agent"][0]
    assert agent["who"] == {"identifier": {"value": "anonymous"}} and "role" not in agent


def test_a_request_id_with_spaces_becomes_a_valid_uri() -> None:
    resource = to_fhir_audit_event(entry(request_id="req 7"))
    assert resource["agent"][0]["policy"] == ["req%207"]
    validated(resource)


def test_the_observer_is_sequester() -> None:
    assert to_fhir_audit_event(entry())["source"]["observer"] == {"display": "sequester"}


def test_a_pseudonym_target_is_the_patient_entity() -> None:
    entity = to_fhir_audit_event(entry())["entity"]
    assert entity[0]["what"]["identifier"]["value"] == PSEUDONYM
    assert entity[0]["role"]["code"] == "1"


def test_another_target_is_a_system_object() -> None:
    grant_id = "0f8c2e7a-1d6b-4f3e-9a2c-5b7d8e9f0a1b"
    entity = to_fhir_audit_event(entry(action="grant.revoke", target=grant_id))["entity"][0]
    assert entity["what"]["identifier"] == {"value": grant_id} and entity["type"]["code"] == "2"


def test_without_a_target_there_is_no_entity() -> None:
    assert "entity" not in to_fhir_audit_event(VARIANTS["no_target"])


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        to_fhir_audit_event(entry(at=datetime(2024, 3, 1, 12)))


def test_an_entry_from_json_gives_the_same_resource() -> None:
    stored = entry()
    from_json = json.loads(json.dumps(stored, default=str))
    from_json["at"] = AT.isoformat()
    assert to_fhir_audit_event(from_json) == to_fhir_audit_event(stored)


# --- nothing but the entry's own values ----------------------------------------------------


def strings(node: Any) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return set().union(*(strings(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(strings(v) for v in node)) if node else set()
    return set()


def test_no_field_carries_anything_but_the_entrys_own_values() -> None:
    """Two entries with disjoint values: what differs between their resources is exactly
    their own values; everything else is the fixed terminology both share."""
    first = entry()
    second = entry(
        principal="MGR-9",
        roles=["manager"],
        target="SQ-ABCD-EFGH",
        request_id="req-99",
        outcome="201",
        rule="role",
        action="chart.list",
        at=AT + timedelta(days=1),
        record_id=UUID(int=1),
    )
    one, two = to_fhir_audit_event(first), to_fhir_audit_event(second)
    own = {
        "first": strings(first)
        | {"7d0b8f0e-2b7c-4a55-9c61-3f1f0c1b2a3d", one["recorded"], "grant (200)"},
        "second": strings(second) | {str(UUID(int=1)), two["recorded"], "role (201)"},
    }
    assert strings(one) - strings(two) <= own["first"]
    assert strings(two) - strings(one) <= own["second"]
    assert not strings(one) & (own["second"] - own["first"])


def test_the_director_rule_never_reaches_the_export() -> None:
    full = AuditEntry(
        principal="C-1",
        roles=["clinician"],
        action="chart.read",
        target=PSEUDONYM,
        decision="denied",
        rule="sequestration",
        at=AT,
        director_rule="supervisor_as_clinician",
    )
    line = "".join(export_ndjson([full.public()]))
    assert "supervisor_as_clinician" not in line and "sequestration" in line


# --- NDJSON --------------------------------------------------------------------------------


def test_export_gives_one_valid_json_line_per_entry() -> None:
    entries = [VARIANTS[name] for name in sorted(VARIANTS)]
    lines = list(export_ndjson(entries))
    assert len(lines) == len(entries)
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    for line, source in zip(lines, entries, strict=True):
        resource = json.loads(line)
        assert validated(resource).id == str(source["record_id"])


def test_a_newline_in_a_value_stays_inside_its_line() -> None:
    line = next(export_ndjson([entry(outcome="bad\nrequest")]))
    assert line.count("\n") == 1


def test_the_stored_trail_exports_in_log_order(memory_system: System) -> None:
    first, second = entry(), entry(record_id=UUID(int=2), action="chart.write")
    for e in (first, second):
        memory_system.audit.record(AuditEntry(**e))
    stored = [e for _, e in iter_audit_entries(memory_system)]
    ids = [json.loads(line)["id"] for line in export_ndjson(stored)]
    assert ids == [str(first["record_id"]), str(second["record_id"])]
