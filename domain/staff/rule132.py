"""Rule 132 professional qualifications on a given day [seed: Medicaid billing II], as a
pure function of the recorded facts, the CRSS record and the date.

- RSA (Rehabilitative Services Associate): 21 years of age; demonstrated skills in the
  field; demonstrated ability to work within the agency's structure and to work
  constructively with clients, treatment resources and the community.
- MHP (Mental Health Professional): any one of the paths in `MHP_PATHS`. A supervised
  internship in a mental health setting counts toward experience in providing mental
  health services; an LPHA or QMHP is deemed an MHP. (That an MHP works under a QMHP's
  supervision is a condition of the post, not of the person: not checked here.)

Every finding names the dated facts it rests on, and for each path not met what it lacks.
Years of experience are counted in days served (`YEAR_DAYS` each), overlaps once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date

from domain.staff.credentials import CrssCredential
from domain.staff.dates import YEAR_DAYS, age_on, birthday_of_age, days_covered
from domain.staff.facts import (
    COMPETENCIES,
    EXPERIENCE_KINDS,
    INTERNSHIP,
    MH_SERVICES,
    MH_SETTING,
    CareerFacts,
)

RSA_AGE = 21
MH_SERVICE_KINDS = frozenset({MH_SERVICES, INTERNSHIP})
MH_SETTING_KINDS = frozenset({MH_SERVICES, INTERNSHIP, MH_SETTING})
ALL_KINDS = frozenset(EXPERIENCE_KINDS)


@dataclass(frozen=True)
class Fact:
    name: str
    on: date
    detail: str


@dataclass(frozen=True)
class Path:
    basis: str
    met: bool
    facts: tuple[Fact, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    code: str  # RSA or MHP
    met: bool
    basis: str | None
    facts: tuple[Fact, ...]
    paths: tuple[Path, ...]


def _path(basis: str, parts: list[tuple[tuple[Fact, ...], str | None]]) -> Path:
    """A path from its parts: each part's facts and, if unmet, what it lacks."""
    facts = tuple(f for part_facts, _ in parts for f in part_facts)
    missing = tuple(lack for _, lack in parts if lack)
    return Path(basis, not missing, facts, missing)


def _award(facts: CareerFacts | None, kinds: tuple[str, ...], words: str, as_of: date
           ) -> tuple[tuple[Fact, ...], str | None]:
    for kind in kinds:
        award = facts.award(kind, as_of) if facts else None
        if award is not None:
            return (Fact(kind, award.awarded_on, f"{kind} awarded on {award.awarded_on}"),), None
    return (), f"{words} on or before {as_of}"


def _experience(facts: CareerFacts | None, kinds: Collection[str], years: int, words: str,
                as_of: date, supervised_only: bool = False
                ) -> tuple[tuple[Fact, ...], str | None]:
    periods = [
        (p, span) for p in (facts.experience if facts else [])
        if p.kind in kinds and (p.supervised or not supervised_only)
        for span in (p.through(as_of),) if span is not None
    ]
    days = days_covered(span for _, span in periods)
    found = tuple(
        Fact("experience", p.started_on, (
            f"{p.kind}{' (supervised)' if p.supervised else ''} from {p.started_on} to "
            f"{p.ended_on if p.ended_on and p.ended_on <= as_of else 'ongoing'}"
        ))
        for p, _ in periods
    )
    needed = years * YEAR_DAYS
    lack = None if days >= needed else f"{needed - days} more days of {words} ({days} of {needed})"
    return found, lack


def _crss(crss: CrssCredential | None, as_of: date) -> tuple[tuple[Fact, ...], str | None]:
    if crss is None or crss.granted_on is None or crss.granted_on > as_of:
        return (), f"a CRSS credential granted on or before {as_of}"
    found = [Fact("crss_granted", crss.granted_on, f"CRSS granted on {crss.granted_on}")]
    found += [Fact("crss_renewed", r.renewed_on, f"CRSS renewal due {r.due_on} made on "
                   f"{r.renewed_on}") for r in crss.renewals if r.renewed_on <= as_of]
    if not crss.in_good_standing(as_of):
        return tuple(found), f"the CRSS in good standing on {as_of} (it is lapsed)"
    return tuple(found), None


def rsa(facts: CareerFacts | None, as_of: date) -> Finding:
    if facts is None or facts.birth_date is None:
        age: tuple[tuple[Fact, ...], str | None] = ((), "a recorded date of birth")
    else:
        turns = birthday_of_age(facts.birth_date, RSA_AGE)
        fact = (Fact("age", turns, f"{RSA_AGE} years of age from {turns}"),)
        old_enough = age_on(facts.birth_date, as_of) >= RSA_AGE
        age = fact, None if old_enough else f"{RSA_AGE} years of age (from {turns})"
    parts = [age]
    for competency in COMPETENCIES:
        found = [a for a in (facts.attestations if facts else []) if
                 a.competency == competency and a.attested_on <= as_of]
        parts.append((
            tuple(Fact(f"attested_{competency}", a.attested_on,
                       f"{competency} attested by {a.attested_by} on {a.attested_on}")
                  for a in found[:1]),
            None if found else f"an attestation of {competency}",
        ))
    path = _path("21 years of age with demonstrated skills and ability in the field", parts)
    return Finding("RSA", path.met, path.basis if path.met else None, path.facts, (path,))


PathRule = Callable[[CareerFacts | None, CrssCredential | None, date], Path]


def _bachelor(f: CareerFacts | None, c: CrssCredential | None, d: date) -> Path:
    return _path("a bachelor's degree",
                 [_award(f, ("bachelors_degree",), "a bachelor's degree", d)])


def _nurse(f: CareerFacts | None, c: CrssCredential | None, d: date) -> Path:
    return _path("a practical nurse license",
                 [_award(f, ("practical_nurse_license",), "a practical nurse license", d)])


def _prcp(f: CareerFacts | None, c: CrssCredential | None, d: date) -> Path:
    return _path(
        "a psychiatric rehabilitation certificate plus a high school diploma plus two years of "
        "mental-health service experience",
        [_award(f, ("prcp_certificate",), "a psychiatric rehabilitation certificate", d),
         _award(f, ("high_school_diploma", "ged"), "a high school diploma", d),
         _experience(f, MH_SERVICE_KINDS, 2, "mental-health service experience", d)],
    )


def _crss_path(f: CareerFacts | None, c: CrssCredential | None, d: date) -> Path:
    return _path(
        "CRSS in good standing plus one year of mental-health service experience",
        [_crss(c, d), _experience(f, MH_SERVICE_KINDS, 1, "mental-health service experience", d)],
    )


def _ota(f: CareerFacts | None, c: CrssCredential | None, d: date) -> Path:
    return _path(
        "an occupational therapy assistant license plus one year in a mental health setting",
        [_award(f, ("ota_license",), "an occupational therapy assistant license", d),
         _experience(f, MH_SETTING_KINDS, 1, "experience in a mental health setting", d)],
    )


def _five_years(f: CareerFacts | None, c: CrssCredential | None, d: date) -> Path:
    return _path(
        "five years of supervised experience in mental health or human services",
        [_experience(f, ALL_KINDS, 5, "supervised experience", d, supervised_only=True)],
    )


def _deemed(f: CareerFacts | None, c: CrssCredential | None, d: date) -> Path:
    return _path("the minimum credentials of an LPHA or QMHP",
                 [_award(f, ("lpha_or_qmhp_credentials",), "LPHA or QMHP credentials", d)])


MHP_PATHS: tuple[PathRule, ...] = (
    _bachelor, _nurse, _prcp, _crss_path, _ota, _five_years, _deemed,
)


def mhp(facts: CareerFacts | None, crss: CrssCredential | None, as_of: date) -> Finding:
    paths = tuple(rule(facts, crss, as_of) for rule in MHP_PATHS)
    met = next((p for p in paths if p.met), None)
    return Finding("MHP", met is not None, met.basis if met else None,
                   met.facts if met else (), paths)


def qualifications(
    facts: CareerFacts | None, crss: CrssCredential | None, as_of: date
) -> tuple[Finding, Finding]:
    """Which of RSA and MHP the staff member meets on `as_of`, and why."""
    return rsa(facts, as_of), mhp(facts, crss, as_of)
