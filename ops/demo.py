"""A realistic demo agency, loaded through the application services, idempotently.

Every name here is invented. Re-running skips what already exists.
"""

from __future__ import annotations

from datetime import date

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


def load_demo(system: System) -> int:
    """Load the demo agency; return how many records were new."""
    created = 0
    for staff_id, name, title, roles, supervisor, hired in STAFF:
        if system.staff.exists(staff_id):
            continue
        system.staff.hire(staff_id, name, title, roles, hired, supervisor_id=supervisor)
        system.staff.sign_agreement(staff_id, AGREEMENT_VERSION, hired)
        created += 1
    return created
