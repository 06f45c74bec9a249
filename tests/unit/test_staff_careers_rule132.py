"""Rule 132 qualifications as of a day [seed: Medicaid billing II]: RSA from the 21st
birthday (not the day before) with three attested competencies; MHP by each path, the
CRSS path needing good standing and a full year of mental-health service experience.
Every finding names the dated facts it rests on."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.errors import InvalidInput, NotFound, RuleViolation
from domain.staff.credentials import DOMAINS, CrssCredential
from domain.staff.facts import COMPETENCIES, CareerFacts
from domain.staff.rule132 import mhp, qualifications, rsa
from ops.bootstrap import System

DAY = timedelta(days=1)
GRANTED = date(2023, 3, 1)
CRSS_BASIS = "CRSS in good standing plus one year of mental-health service experience"


def attested(birth_date: date | None = date(2003, 5, 10)) -> CareerFacts:
    facts = CareerFacts("R-1")
    if birth_date is not None:
        facts.record_birth_date(birth_date)
    for competency in COMPETENCIES:
        facts.attest(competency, "M-1", date(2023, 1, 9))
    return facts


def crss(granted_on: date = GRANTED) -> CrssCredential:
    cred = CrssCredential.start("R-1", date(2021, 1, 4))
    cred.record_education("high_school_diploma", date(2015, 6, 1))
    cred.log_hours("work", 1000, date(2022, 12, 1), paid=True)
    cred.log_hours("work", 1000, date(2022, 12, 1), paid=True)
    for domain in DOMAINS:
        cred.log_hours("supervision", 25, date(2022, 12, 1), domain=domain)
    cred.log_hours("training", 100, date(2022, 12, 1))
    cred.submit_application(date(2023, 1, 2))
    cred.record_exam(date(2023, 2, 1), passed=True)
    cred.grant(granted_on)
    return cred


# -- RSA --------------------------------------------------------------------------------
def test_rsa_is_met_on_the_21st_birthday_and_not_the_day_before() -> None:
    facts = attested(date(2003, 5, 10))
    before, on = rsa(facts, date(2024, 5, 9)), rsa(facts, date(2024, 5, 10))
    assert not before.met and before.basis is None
    assert before.paths[0].missing == ("21 years of age (from 2024-05-10)",)
    assert on.met
    assert on.basis == "21 years of age with demonstrated skills and ability in the field"


def test_born_on_29_february_turns_21_on_1_march_in_a_common_year() -> None:
    facts = attested(date(2004, 2, 29))
    assert not rsa(facts, date(2025, 2, 28)).met
    assert rsa(facts, date(2025, 3, 1)).met
    assert rsa(facts, date(2025, 3, 1)).facts[0].on == date(2025, 3, 1)


def test_rsa_needs_each_competency_attested_by_the_day() -> None:
    facts = CareerFacts("R-1")
    facts.record_birth_date(date(1990, 1, 1))
    facts.attest("skills_in_field", "M-1", date(2023, 1, 9))
    finding = rsa(facts, date(2023, 1, 9))
    assert finding.paths[0].missing == (
        "an attestation of works_within_agency_structure",
        "an attestation of works_constructively",
    )
    assert rsa(facts, date(2023, 1, 8)).paths[0].missing[0] == "an attestation of skills_in_field"


def test_rsa_without_a_recorded_birth_date_says_so() -> None:
    assert "a recorded date of birth" in rsa(attested(None), date(2024, 1, 1)).paths[0].missing
    assert "a recorded date of birth" in rsa(None, date(2024, 1, 1)).paths[0].missing


def test_nobody_attests_their_own_skills() -> None:
    with pytest.raises(RuleViolation, match="cannot attest its own skills"):
        CareerFacts("R-1").attest("skills_in_field", "R-1", date(2023, 1, 9))


def test_rsa_names_each_fact_it_rests_on() -> None:
    finding = rsa(attested(date(2003, 5, 10)), date(2024, 6, 1))
    assert [(f.name, f.on) for f in finding.facts] == [
        ("age", date(2024, 5, 10)),
        ("attested_skills_in_field", date(2023, 1, 9)),
        ("attested_works_within_agency_structure", date(2023, 1, 9)),
        ("attested_works_constructively", date(2023, 1, 9)),
    ]
    assert all(str(f.on) in f.detail for f in finding.facts)
    assert "M-1" in finding.facts[1].detail


# -- MHP --------------------------------------------------------------------------------
def with_service(days: int, kind: str = "mental_health_services",
                 supervised: bool = False) -> CareerFacts:
    facts = CareerFacts("R-1")
    start = date(2022, 1, 1)
    facts.record_experience(kind, start, start + (days - 1) * DAY, supervised or
                            kind == "mental_health_internship")
    return facts


def test_mhp_by_crss_needs_a_full_year_of_mental_health_service() -> None:
    as_of = date(2024, 1, 1)
    short = mhp(with_service(364), crss(), as_of)
    assert not short.met
    crss_path = next(p for p in short.paths if p.basis == CRSS_BASIS)
    assert crss_path.missing == (
        "1 more days of mental-health service experience (364 of 365)",)
    full = mhp(with_service(365), crss(), as_of)
    assert (full.met, full.basis) == (True, CRSS_BASIS)


def test_mhp_explanation_names_each_dated_fact() -> None:
    cred = crss()
    cred.renew(date(2024, 3, 1))
    finding = mhp(with_service(400), cred, date(2024, 6, 1))
    assert [(f.name, f.on) for f in finding.facts] == [
        ("crss_granted", GRANTED),
        ("crss_renewed", date(2024, 3, 1)),
        ("experience", date(2022, 1, 1)),
    ]
    assert "from 2022-01-01 to 2023-02-04" in finding.facts[2].detail
    assert all(str(f.on) in f.detail for f in finding.facts)


def test_a_lapsed_crss_does_not_qualify() -> None:
    cred = crss()  # renewal due 2024-03-01, never recorded
    assert mhp(with_service(400), cred, date(2024, 3, 1)).met
    lapsed = mhp(with_service(400), cred, date(2024, 3, 2))
    assert not lapsed.met
    path = next(p for p in lapsed.paths if p.basis == CRSS_BASIS)
    assert path.missing == ("the CRSS in good standing on 2024-03-02 (it is lapsed)",)


def test_a_crss_granted_after_the_day_does_not_count_yet() -> None:
    finding = mhp(with_service(400), crss(), GRANTED - DAY)
    assert not finding.met
    path = next(p for p in finding.paths if p.basis == CRSS_BASIS)
    assert path.missing == (f"a CRSS credential granted on or before {GRANTED - DAY}",)


def test_a_supervised_internship_counts_and_human_services_does_not() -> None:
    assert mhp(with_service(365, "mental_health_internship"), crss(), date(2024, 1, 1)).met
    assert not mhp(with_service(365, "human_services"), crss(), date(2024, 1, 1)).met
    with pytest.raises(InvalidInput, match="only when supervised"):
        CareerFacts("R-1").record_experience("mental_health_internship", GRANTED, None, False)


def test_five_years_of_supervised_experience_count_overlaps_once() -> None:
    facts = CareerFacts("R-1")
    facts.record_experience("human_services", date(2015, 1, 1), date(2018, 12, 31), True)
    facts.record_experience("mental_health_setting", date(2018, 1, 1), None, True)
    facts.record_experience("mental_health_services", date(2010, 1, 1), date(2014, 1, 1), False)
    five = "five years of supervised experience in mental health or human services"
    day = date(2015, 1, 1) + (5 * 365 - 1) * DAY
    assert mhp(facts, None, day).basis == five
    assert not mhp(facts, None, day - DAY).met


def test_a_bachelors_degree_counts_from_the_day_it_is_awarded() -> None:
    facts = CareerFacts("R-1")
    facts.record_award("bachelors_degree", date(2020, 5, 15))
    assert not mhp(facts, None, date(2020, 5, 14)).met
    assert mhp(facts, None, date(2020, 5, 15)).basis == "a bachelor's degree"
    with pytest.raises(RuleViolation, match="already recorded"):
        facts.record_award("bachelors_degree", date(2021, 5, 15))


def test_the_prcp_path_needs_certificate_diploma_and_two_years() -> None:
    facts = with_service(730)
    facts.record_award("prcp_certificate", date(2021, 6, 1))
    assert not mhp(facts, None, date(2024, 1, 1)).met
    facts.record_award("ged", date(2012, 6, 1))
    assert mhp(facts, None, date(2024, 1, 1)).basis.startswith(  # type: ignore[union-attr]
        "a psychiatric rehabilitation certificate")


def test_ending_an_open_period_of_experience() -> None:
    facts = CareerFacts("R-1")
    number = facts.record_experience("mental_health_services", date(2022, 1, 1), None, False)
    assert mhp(facts, crss(), date(2024, 1, 1)).met  # ongoing
    facts.end_experience(number, date(2022, 6, 30))
    assert not mhp(facts, crss(), date(2024, 1, 1)).met
    with pytest.raises(RuleViolation, match="ended on 2022-06-30"):
        facts.end_experience(number, date(2022, 7, 30))
    with pytest.raises(NotFound, match="experience 5"):
        facts.end_experience(5, date(2022, 7, 30))


def test_no_facts_at_all_meets_nothing_and_says_what_each_path_lacks() -> None:
    rsa_finding, mhp_finding = qualifications(None, None, date(2024, 1, 1))
    assert not rsa_finding.met and not mhp_finding.met
    assert len(mhp_finding.paths) == 7
    assert all(p.missing for p in mhp_finding.paths)


def test_through_the_application(memory_system: System) -> None:
    memory_system.staff.hire("M-1", "M", "program_manager", ["manager"], date(2020, 1, 6))
    memory_system.staff.hire("R-1", "R", "recovery_support_specialist", ["peer_staff"],
                             date(2021, 1, 4), supervisor_id="M-1")
    careers = memory_system.careers
    careers.record_birth_date("R-1", date(2003, 5, 10))
    for competency in COMPETENCIES:
        careers.attest("R-1", competency, "M-1", date(2023, 1, 9))
    with pytest.raises(NotFound, match="staff member M-9 does not exist"):
        careers.attest("R-1", "skills_in_field", "M-9", date(2023, 1, 9))
    number, _ = careers.record_experience("R-1", "mental_health_services", date(2021, 1, 4),
                                          None, True)
    assert number == 0
    found = careers.qualifications("R-1", date(2024, 5, 10))
    assert [f.met for f in found] == [True, False]
