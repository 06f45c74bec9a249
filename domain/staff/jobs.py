"""The job catalogue: distinct functions have distinct titles [seed: Job titles I.B-C].

Whether a title charts is part of the title [seed: Confidentiality I.B]: staff whose
title does not chart may never author a chart entry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobTitle:
    code: str
    name: str
    charts: bool
    peer: bool = False


CATALOGUE: dict[str, JobTitle] = {
    t.code: t
    for t in (
        # The seed's five titles designed for people with personal recovery experience.
        JobTitle("recovery_support_specialist", "Recovery Support Specialist", True, peer=True),
        JobTitle("peer_support_specialist", "Peer Support Specialist", True, peer=True),
        JobTitle("recovery_coach", "Recovery Coach", True, peer=True),
        JobTitle("engagement_specialist", "Engagement Specialist", False, peer=True),
        JobTitle(
            "ambassador_wellness_recovery", "Ambassador for Wellness and Recovery", False, peer=True
        ),
        # Other staff.
        JobTitle("clinician", "Clinician", True),
        JobTitle("case_manager", "Case Manager", True),
        JobTitle("program_manager", "Program Manager", False),
        JobTitle("clinical_deputy", "Clinical Deputy", True),
        JobTitle("director", "Director", False),
        JobTitle("county_counsel", "County Counsel", False),
        JobTitle("privacy_officer", "Privacy Officer", False),
        JobTitle("auditor", "Auditor", False),
        JobTitle("hr_specialist", "Human Resources Specialist", False),
    )
}
