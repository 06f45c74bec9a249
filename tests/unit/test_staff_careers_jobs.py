"""The job catalogue: qualification basis (never recovery experience alone), charting,
and career paths for peer titles comparable to other staff's [seed: Job titles III, V]."""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

import pytest

from api.schemas import careers as schemas
from domain.errors import RuleViolation
from domain.staff import credentials, facts, teams, trainings
from domain.staff.jobs import (
    CATALOGUE,
    COMPETENCY,
    DOCUMENT,
    LIVED,
    PEER_QUALIFICATIONS,
    SUPERVISORY,
    JobTitle,
    Qualification,
    career_path_problems,
    check_career_paths,
    highest_reachable,
)

#: The codes other code (staff records, charting, the demo) depends on.
ORIGINAL_CODES = {
    "recovery_support_specialist", "peer_support_specialist", "recovery_coach",
    "engagement_specialist", "ambassador_wellness_recovery", "clinician", "case_manager",
    "program_manager", "clinical_deputy", "director", "county_counsel", "privacy_officer",
    "auditor", "hr_specialist",
}


def test_existing_codes_keep_their_charting_and_peer_flags() -> None:
    assert ORIGINAL_CODES <= set(CATALOGUE)
    assert not CATALOGUE["engagement_specialist"].charts
    assert CATALOGUE["recovery_support_specialist"].charts
    assert CATALOGUE["ambassador_wellness_recovery"].peer
    assert not CATALOGUE["clinician"].peer


def test_the_real_catalogue_gives_every_peer_title_a_career_path() -> None:
    check_career_paths(CATALOGUE)
    assert career_path_problems(CATALOGUE) == []
    for title in (t for t in CATALOGUE.values() if t.peer and not t.supervisory):
        assert title.advances_to, title.code
        assert highest_reachable(title.code, CATALOGUE).level >= SUPERVISORY, title.code


def test_personal_recovery_experience_alone_is_refused_as_tokenism() -> None:
    with pytest.raises(RuleViolation, match="recovery experience alone is never") as e:
        JobTitle("token", "Token Peer", False, peer=True, qualifications=LIVED)
    assert e.value.rule == "tokenism"


def test_a_title_with_no_qualifications_at_all_is_refused() -> None:
    with pytest.raises(RuleViolation, match="must rest on education/experience or competencies"):
        JobTitle("empty", "Empty", False)


def test_competencies_with_recovery_experience_are_enough() -> None:
    title = JobTitle("ok", "Ok", False, peer=True,
                     qualifications=(Qualification(COMPETENCY, "Empowers"), *LIVED))
    assert title.basis == "competencies"


def test_peer_titles_rest_on_both_education_experience_and_competencies() -> None:
    assert {t.basis for t in CATALOGUE.values() if t.peer} == {"both"}
    assert CATALOGUE["clinician"].basis == "education_experience"
    assert PEER_QUALIFICATIONS[-1].kind == "personal_recovery_experience"


def test_every_title_that_documents_services_charts() -> None:
    assert [t.code for t in CATALOGUE.values() if DOCUMENT in t.responsibilities
            and not t.charts] == []


def test_a_dead_end_peer_title_is_named() -> None:
    broken = {**CATALOGUE, "recovery_coach": replace(CATALOGUE["recovery_coach"], advances_to=())}
    assert "peer title recovery_coach leads nowhere" in career_path_problems(broken)
    with pytest.raises(RuleViolation, match="recovery_coach leads nowhere"):
        check_career_paths(broken)


def test_a_peer_path_without_a_supervisory_title_is_named() -> None:
    senior = replace(CATALOGUE["senior_recovery_support_specialist"], advances_to=())
    broken = {**CATALOGUE, "senior_recovery_support_specialist": senior}
    problems = career_path_problems(broken)
    assert "peer title recovery_coach has no path to a supervisory title" in problems


def test_a_peer_path_topping_out_below_other_staffs_is_named() -> None:
    capped = replace(CATALOGUE["recovery_services_supervisor"], advances_to=())
    senior = replace(CATALOGUE["senior_recovery_support_specialist"],
                     advances_to=("recovery_services_supervisor",))
    broken = {**CATALOGUE, "recovery_services_supervisor": capped,
              "senior_recovery_support_specialist": senior}
    problems = career_path_problems(broken)
    assert "peer title recovery_coach tops out below case_manager's path" in problems


def test_a_step_down_or_to_an_unknown_title_is_named() -> None:
    broken = {**CATALOGUE,
              "director": replace(CATALOGUE["director"], advances_to=("clinician", "wizard"))}
    problems = career_path_problems(broken)
    assert "director → clinician is a step down or to an unknown title" in problems
    assert "director → wizard is a step down or to an unknown title" in problems


@pytest.mark.parametrize(
    ("literal", "domain_values"),
    [
        (schemas.Education, credentials.EDUCATION_KINDS),
        (schemas.Domain, credentials.DOMAINS),
        (schemas.HoursCategory, (credentials.WORK, credentials.SUPERVISION,
                                 credentials.TRAINING)),
        (schemas.AwardKind, facts.AWARD_KINDS),
        (schemas.ExperienceKind, facts.EXPERIENCE_KINDS),
        (schemas.Competency, facts.COMPETENCIES),
        (schemas.TeamKind, teams.TEAM_KINDS),
        (schemas.TrainingCode, tuple(trainings.TRAININGS)),
    ],
)
def test_the_api_vocabularies_match_the_domain(literal: object, domain_values: tuple[str, ...]
                                               ) -> None:
    assert get_args(literal) == tuple(domain_values)
