"""Role confusion: every route tried with every role; only the intended ones get past
authorization. The probe is a staff member holding one role (on the staff record and in
its token), with fake ids and an empty body: an intended role then fails later (404, 422) but never
with 403, and every other role gets 403 before anything is looked up.

Chart routes are decided by the access policy after the role gate: for an unknown
pseudonym every role but the director's office and the privacy officer gets the same 403
as a missing grant (the journeys test the granted paths).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from domain.staff.aggregate import ROLES

P = "SQ-AAAA-BBBB"
U = "00000000-0000-4000-8000-000000000000"
AUDIT = {"auditor", "director"}
EVERYONE = set(ROLES)  # the handler decides on the object (the person itself, a supervisor)
DEPUTY = {"clinical_deputy", "director"}
HR_DIRECTOR = {"hr", "director"}
CAREER_READS = ("credentials", "qualifications", "trainings")
CAREER_WRITES = (
    "credentials", "credentials/education", "credentials/hours", "credentials/application",
    "credentials/exam", "credentials/grant", "credentials/renewals", "credentials/ceus",
    "qualifications/birth-date", "qualifications/awards", "qualifications/experience",
    "qualifications/experience/0/end", "qualifications/attestations", "trainings",
)
ROUTES: dict[tuple[str, str], set[str]] = {
    ("POST", "/staff"): {"hr", "director"},
    ("GET", "/staff/X-404"): {"hr", "director", "manager", "privacy_officer"},
    ("POST", "/staff/X-404/confidentiality-agreements"): {"hr", "director"},
    ("PUT", "/staff/X-404/roles"): {"hr", "director"},
    ("POST", "/staff/X-404/separation"): {"hr"},
    ("POST", "/subjects"): {"director"},
    ("GET", "/subjects"): {"director"},
    ("POST", f"/subjects/{P}/resolve"): {"director"},
    ("POST", f"/subjects/{P}/groups"): {"director"},
    ("POST", f"/subjects/{P}/clinicians"): {"director"},
    ("GET", f"/subjects/{P}/access-report"): {"director"},
    ("GET", "/audit/events"): AUDIT,
    ("GET", "/audit/checkpoint"): AUDIT,
    ("GET", "/audit/proofs/inclusion?index=0"): AUDIT,
    ("GET", "/audit/proofs/consistency?old=0"): AUDIT,
    ("GET", f"/audit/replay/subject/{P}"): AUDIT,
    ("GET", "/audit/export?format=fhir"): AUDIT,
    ("GET", f"/audit/events/{U}/proof"): AUDIT,
    ("GET", "/audit/log/checkpoint"): AUDIT,  # anyone with SEQUESTER_AUDIT_LOG_PUBLIC
    ("GET", "/audit/log/tile/0/000"): AUDIT,
    # Charts: the access decision follows; an unknown pseudonym reads as "no grant" to all
    # but the director and privacy officer, who may know which pseudonyms exist.
    ("GET", f"/charts/{P}"): {"director", "privacy_officer"},
    ("POST", f"/charts/{P}/entries"): {"clinician", "peer_staff"},
    ("POST", f"/charts/{P}/break-glass"): {"clinician"},
    ("POST", f"/charts/{P}/close"): {"clinician", "director"},
    ("POST", f"/charts/{P}/reopen"): {"clinician", "director"},
    ("POST", "/grants"): {"privacy_officer"},
    ("GET", "/grants"): {"privacy_officer"},
    ("GET", f"/grants/{U}"): {"privacy_officer"},
    ("POST", f"/grants/{U}/revoke"): {"privacy_officer"},
    ("GET", "/grants/confirmations"): {"director"},
    ("POST", f"/grants/{U}/confirm"): {"director"},
    ("POST", f"/grants/{U}/decline"): {"director"},
    ("POST", "/break-glass/blocks/X-404/lift"): {"privacy_officer"},
    ("GET", "/break-glass"): {"privacy_officer"},
    ("GET", f"/break-glass/{U}"): {"privacy_officer"},
    ("POST", f"/break-glass/{U}/review"): {"privacy_officer"},
    ("POST", "/dual-relationships"): EVERYONE,  # the staff member itself, or a manager
    ("GET", "/dual-relationships"): DEPUTY | {"county_counsel", "manager"},
    ("GET", f"/dual-relationships/{U}"): DEPUTY,  # others: the same 403 for unknown ids
    # A step on an unknown id: only the Director's office and the Clinical Deputy learn
    # that it names no case; everyone else gets the same 403 as for another's case.
    ("POST", f"/dual-relationships/{U}/referral"): set(),
    ("POST", f"/dual-relationships/{U}/guidance"): DEPUTY | {"county_counsel"},  # body first
    ("POST", f"/dual-relationships/{U}/recommendation"): {"clinical_deputy"},
    ("POST", f"/dual-relationships/{U}/decision"): {"director"},
    ("POST", f"/dual-relationships/{U}/conditions/0/met"): DEPUTY,
    ("POST", f"/dual-relationships/{U}/close"): DEPUTY,
    ("POST", "/accommodations"): EVERYONE,  # only for oneself: the handler checks
    # An unknown request id: hr learns it names none; everyone else gets the one 403.
    ("GET", f"/accommodations/{U}"): {"hr"},
    ("POST", f"/accommodations/{U}/notes"): EVERYONE,  # the body is checked first
    ("POST", f"/accommodations/{U}/decision"): {"hr"},
    ("POST", f"/accommodations/{U}/decline"): set(),  # only the employee, who it is not
    # Careers: hr and the Director's office write; the person and its supervisor also read.
    ("GET", "/jobs"): EVERYONE,
    **{("POST", f"/staff/X-404/{path}"): HR_DIRECTOR for path in CAREER_WRITES},
    **{("GET", f"/staff/X-404/{path}"): HR_DIRECTOR for path in CAREER_READS},
    ("GET", "/teams"): HR_DIRECTOR,
    ("POST", "/teams"): HR_DIRECTOR,
    ("GET", "/teams/T-404"): HR_DIRECTOR,  # or a member: others get 403 for unknown teams
    ("POST", "/teams/T-404/members"): HR_DIRECTOR,
    ("POST", "/teams/T-404/members/X-404/leave"): HR_DIRECTOR,
}
OPEN = {"/healthz", "/readyz", "/metrics"}


def template(path: str) -> str:
    return path.split("?")[0]


def test_the_table_covers_every_route(client: TestClient) -> None:
    documented = {
        (method.upper(), path)
        for path, item in client.get("/openapi.json").json()["paths"].items()
        for method in item
        if path not in OPEN
    }
    probed = set()
    for method, path in ROUTES:
        for candidate in documented:
            parts, probe = candidate[1].split("/"), template(path).split("/")
            if candidate[0] == method and len(parts) == len(probe) and all(
                a == b or a.startswith("{") for a, b in zip(parts, probe, strict=True)
            ):
                probed.add(candidate)
    assert documented - probed == set()


@pytest.mark.parametrize("role", sorted(ROLES))
def test_only_the_intended_roles_pass_authorization(
    client: TestClient, token_for: Callable[..., dict[str, str]], role: str
) -> None:
    headers = token_for("ZZ-1", role)
    wrong = []
    for (method, path), allowed in ROUTES.items():
        kwargs = {"json": {}} if method in ("POST", "PUT") else {}
        status = client.request(method, path, headers=headers, **kwargs).status_code
        if (status == 403) == (role in allowed) or status == 500:
            wrong.append(f"{method} {path}: {status}")
    assert wrong == []
