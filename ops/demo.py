"""A realistic demo agency, loaded through the application services, idempotently.

Every name here is invented. Staff are added one by one (re-runs skip those present);
the rest is loaded once, when the agency has no sequestered subject yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from domain.dual_relationships import Actor, Disclosure
from ops.bootstrap import System

STAFF = [
    # staff_id, display name, job title, roles, supervisor, hired
    ("D-001", "Director Morgan Hale", "director", ["director"], None, date(2015, 3, 2)),
    ("CD-01", "Dr. Priya Raman", "clinical_deputy", ["clinical_deputy"], "D-001", date(2017, 6, 12)),
    ("CC-01", "Counsel Jordan Ellis", "county_counsel", ["county_counsel"], None, date(2016, 1, 4)),
    ("PO-01", "Sam Okafor", "privacy_officer", ["privacy_officer"], "D-001", date(2019, 9, 9)),
    ("AU-01", "Lee Brandt", "auditor", ["auditor"], None, date(2021, 2, 1)),
    ("HR-01", "Casey Nguyen", "hr_specialist", ["hr"], "D-001", date(2018, 4, 16)),
    ("M-001", "Rosa Delgado", "program_manager", ["manager"], "CD-01", date(2016, 8, 22)),
    ("M-002", "Tom Whitaker", "program_manager", ["manager"], "CD-01", date(2020, 1, 13)),
    ("C-001", "Avery Collins", "clinician", ["clinician"], "M-001", date(2018, 11, 5)),
    ("C-002", "Jamie Fischer", "clinician", ["clinician"], "M-001", date(2022, 5, 2)),
    ("C-003", "Noor Haddad", "case_manager", ["clinician"], "M-002", date(2021, 7, 19)),
    ("R-001", "Riley Monroe", "recovery_support_specialist", ["peer_staff"], "M-001", date(2024, 2, 5)),
    ("R-002", "Quinn Abara", "peer_support_specialist", ["peer_staff"], "M-002", date(2025, 9, 1)),
    ("R-003", "Dana Kowalski", "recovery_coach", ["peer_staff"], "M-002", date(2026, 3, 16)),
]
AGREEMENT_VERSION = "2024.1"

# legal name (invented), birth date, category, linked staff id, program labels
SUBJECTS = [
    ("Riley Jo Monroe", date(1991, 5, 14), "employee", "R-001", ["SUD", "42CFRPart2"]),
    ("Quinn T. Abara", date(1986, 11, 2), "employee", "R-002", ["PSY"]),
    ("Ellis Haddad", date(2009, 1, 23), "employee_relative", "C-003", ["PSY"]),
    ("Councilmember Avery Stone", date(1970, 7, 8), "public_figure", None, ["SUD"]),
    ("Jordan Stone", date(2001, 3, 30), "public_figure_relative", None, []),
]


def load_demo(system: System) -> int:
    """Load the demo agency; return how many records were new."""
    created = _staff(system)
    if system.subjects.list_pseudonyms():
        return created
    now = datetime.now(UTC)
    pseudonyms = _subjects(system, now)
    _access(system, pseudonyms, now)
    _dual_relationships(system, pseudonyms, now)
    _accommodation(system, now)
    return created + len(pseudonyms)


def _staff(system: System) -> int:
    created = 0
    for staff_id, name, title, roles, supervisor, hired in STAFF:
        if system.staff.exists(staff_id):
            continue
        system.staff.hire(staff_id, name, title, roles, hired, supervisor_id=supervisor)
        system.staff.sign_agreement(staff_id, AGREEMENT_VERSION, hired)
        created += 1
    return created


def _subjects(system: System, now: datetime) -> list[str]:
    pseudonyms = []
    for legal_name, born, category, staff_id, labels in SUBJECTS:
        pseudonym, _ = system.subjects.enrol(
            legal_name, born, category, staff_id=staff_id, program_labels=labels,
            enrolled_on=date(2024, 1, 15),
        )
        subject = system.subjects.get(pseudonym)
        system.charts.open(pseudonym, subject.id, date(2024, 1, 15))
        pseudonyms.append(pseudonym)
    riley, quinn, _, figure, relative = pseudonyms
    # Riley (an RSS) still attends group G-ANX-2 as a client; so does the public figure.
    system.subjects.add_group(riley, "G-ANX-2", date(2024, 3, 1))
    system.subjects.add_group(figure, "G-ANX-2", date(2024, 6, 1))
    system.subjects.add_group(quinn, "G-DBT-1", date(2023, 9, 1), date(2024, 9, 1))
    for pseudonym, clinician in ((riley, "C-002"), (quinn, "C-001"), (figure, "C-001")):
        system.subjects.assign_clinician(pseudonym, clinician, set())
    system.charts.add_entry(
        figure, "C-001", True, "individual_session", "H0004", date(2024, 6, 3),
        "Demo note: discussed sleep routine and a relapse-prevention plan.", now,
    )
    system.charts.close_chart(relative, date(2025, 2, 1), "C-001")
    return pseudonyms


def _access(system: System, pseudonyms: list[str], now: datetime) -> None:
    """Grants by the privacy officer, confirmed by the Director's office, except two the
    link rules forbid: Riley's (it attends the public figure's group) waits in the
    Director's office's queue, and Noor's on its own relative's chart was declined."""
    riley, quinn, ellis, figure, _ = pseudonyms
    po, director = ["privacy_officer"], ["director"]
    for grantee, pseudonym, scope, then in (
        ("C-002", riley, "write", "confirm"), ("C-001", quinn, "write", "confirm"),
        ("C-001", figure, "write", "confirm"),
        ("R-001", figure, "read", "wait"),  # group co-member: the Director's office sees why
        ("C-003", ellis, "read", "decline"),  # the employee's own relative
    ):
        subject_id = system.subjects.get(pseudonym).id
        grant_id, _ = system.access.grant(
            grantee, pseudonym, subject_id, scope, "TREAT", now + timedelta(days=180),
            "treating clinician of record", "PO-01", now, actor_roles=po,
        )
        if then == "confirm":
            system.access.confirm(grant_id, "D-001", now, None, actor_roles=director)
        elif then == "decline":
            system.access.decline(grant_id, "D-001", "staff relative", now,
                                  actor_roles=director)
    system.access.invoke_break_glass(
        "C-003", quinn, system.subjects.get(quinn).id, "ETREAT",
        "after-hours crisis call; assigned clinician unreachable", now, actor_roles=["clinician"],
    )


def _dual_relationships(system: System, pseudonyms: list[str], now: datetime) -> None:
    today = now.date()
    manager = Actor("M-001", frozenset({"manager"}))
    counsel = Actor("CC-01", frozenset({"county_counsel"}))
    deputy = Actor("CD-01", frozenset({"clinical_deputy"}))
    director = Actor("D-001", frozenset({"director"}))
    drs = system.dual_relationships

    def disclose(staff_id: str, kind: str, ref: str, began: date, hired: date, days_ago: int) -> UUID:
        disclosure = Disclosure(
            staff_id=staff_id, kind=kind, began_on=began, predates_hire=began < hired,
            disclosed_on=today - timedelta(days=days_ago), disclosed_to="M-001", hired_on=hired,
            counterpart_case_status="closed", counterpart_client_ref=ref,
            counterpart_case_closed_on=date(2023, 5, 1),
        )
        case_id, _ = drs.disclose(manager, disclosure, now - timedelta(days=days_ago))
        return case_id

    just_disclosed = disclose("R-003", "social", "CL-20931", date(2025, 6, 1), date(2026, 3, 16), 2)
    referred = disclose("R-002", "financial", "CL-11872", date(2024, 1, 10), date(2025, 9, 1), 40)
    drs.refer(referred, manager, today - timedelta(days=38))  # overdue for guidance
    decided = disclose("R-001", "romantic", "CL-30415", date(2023, 12, 1), date(2024, 2, 5), 30)
    drs.refer(decided, manager, today - timedelta(days=29))
    drs.record_guidance(decided, counsel, "Exception permissible with reassignment.", today - timedelta(days=20))
    drs.recommend(decided, deputy, "exception_with_conditions", "Long-standing partner; no clinical role.",
                  today - timedelta(days=15))
    drs.decide(decided, director, "exception_with_conditions",
               ["No access to the partner's chart", "Quarterly supervision check-in"],
               today - timedelta(days=10))
    drs.condition_met(decided, 0, manager, today - timedelta(days=9))
    del just_disclosed


def _accommodation(system: System, now: datetime) -> None:
    request_id, _ = system.accommodations.file(
        "R-001", "R-001", "Demo condition text (medical file only).",
        "A flexible start time on two mornings a week", None, now.date() - timedelta(days=5),
    )
    system.accommodations.add_note(
        request_id, "HR-01", ["hr"], "Interactive discussion held; schedule options reviewed.", now
    )
