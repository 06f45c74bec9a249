"""The job catalogue: distinct functions have distinct titles [seed: Job titles I.B-C].

Each title states its responsibilities [II], the basis of its qualifications [III] and
where it leads [V]. Whether a title charts is part of the title [seed: Confidentiality
I.B]: staff whose title does not chart may never author a chart entry.

Two invariants are checked, not hoped for:
- personal recovery experience alone is never a qualification [III.A: "tokenism"]: every
  title rests on education/experience, competencies, or both (`JobTitle.__post_init__`);
- every peer title has a career path at least comparable to other staff's [V.A-C]
  (`check_career_paths`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import RuleViolation

EDUCATION_EXPERIENCE, COMPETENCY, RECOVERY_EXPERIENCE = (
    "education_experience",
    "competency",
    "personal_recovery_experience",
)
BASIS_KINDS = (EDUCATION_EXPERIENCE, COMPETENCY, RECOVERY_EXPERIENCE)
#: Career levels: entry, professional, senior, supervisory, executive.
ENTRY, PROFESSIONAL, SENIOR, SUPERVISORY, EXECUTIVE = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Qualification:
    kind: str  # one of BASIS_KINDS
    text: str


def _q(kind: str, *texts: str) -> tuple[Qualification, ...]:
    return tuple(Qualification(kind, t) for t in texts)


# The seed's examples [Job titles II.B, III.C-D].
ROLE_MODEL = "Serve as a role model for individuals in recovery"
SOCIAL_LEARNING = "Promote social learning through shared experiences"
OPTIONS = (
    "Help individuals identify options and participate in all decisions related to "
    "establishing and achieving recovery goals"
)
CHOICE = "Assure the individual's choices define and drive the recovery planning process"
RISK = (
    "Respond appropriately to risk indicators to assure the welfare and physical safety of "
    "individuals receiving services"
)
DOCUMENT = "Document service provision as required"
TEAM = "Serve as an active member of the individual's treatment team"
DEGREE = _q(
    EDUCATION_EXPERIENCE,
    "The skills, knowledge and abilities equivalent to four years of college with a degree in "
    "social work, psychology, or another related health or human services field",
)
TWO_YEARS = _q(EDUCATION_EXPERIENCE, "2 years of related work and/or volunteer experience")
PEER_COMPETENCIES = _q(
    COMPETENCY,
    "Shares wellness and recovery experience effectively",
    "Makes ethical decisions concerning professional boundaries",
    "Empowers individuals to problem-solve",
    "Promotes individual choice and self-determination",
    "Invests in others' personal or professional development",
    "Role-models a lifestyle of wellness",
)
LIVED = _q(RECOVERY_EXPERIENCE, "Personal recovery experience, shared by choice")


@dataclass(frozen=True)
class JobTitle:
    code: str
    name: str
    charts: bool
    peer: bool = False
    level: int = PROFESSIONAL
    responsibilities: tuple[str, ...] = ()
    qualifications: tuple[Qualification, ...] = ()
    advances_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_qualification_basis(self.code, self.qualifications)

    @property
    def basis(self) -> str:
        """What the qualifications rest on: education_experience, competencies, or both."""
        kinds = {q.kind for q in self.qualifications}
        if {EDUCATION_EXPERIENCE, COMPETENCY} <= kinds:
            return "both"
        return EDUCATION_EXPERIENCE if EDUCATION_EXPERIENCE in kinds else "competencies"

    @property
    def supervisory(self) -> bool:
        return self.level >= SUPERVISORY


def check_qualification_basis(code: str, qualifications: tuple[Qualification, ...]) -> None:
    """Personal recovery experience alone as a qualification is tokenism [III.A]."""
    unknown = sorted({q.kind for q in qualifications} - set(BASIS_KINDS))
    if unknown:
        raise RuleViolation(
            "qualification_basis", f"title {code}: unknown qualification kind(s) {unknown}"
        )
    if not {q.kind for q in qualifications} & {EDUCATION_EXPERIENCE, COMPETENCY}:
        raise RuleViolation(
            "tokenism",
            f"title {code} must rest on education/experience or competencies: personal "
            "recovery experience alone is never a qualification",
        )


PEER_DUTIES = (ROLE_MODEL, SOCIAL_LEARNING, OPTIONS, CHOICE, RISK, DOCUMENT, TEAM)
PEER_QUALIFICATIONS = TWO_YEARS + PEER_COMPETENCIES + LIVED


def _peer(code: str, name: str, charts: bool, level: int, advances_to: tuple[str, ...],
          duties: tuple[str, ...] = PEER_DUTIES) -> JobTitle:
    return JobTitle(code, name, charts, True, level, duties, PEER_QUALIFICATIONS, advances_to)


def _other(code: str, name: str, charts: bool, level: int, duties: tuple[str, ...],
           qualifications: tuple[Qualification, ...], advances_to: tuple[str, ...] = ()
           ) -> JobTitle:
    return JobTitle(code, name, charts, False, level, duties, qualifications, advances_to)


NON_CHARTING_PEER_DUTIES = (ROLE_MODEL, SOCIAL_LEARNING, OPTIONS, RISK)
SUPERVISE = "Supervise staff: keep supervision on the job, never clinical [Supervisory A-D]"
CATALOGUE: dict[str, JobTitle] = {
    t.code: t
    for t in (
        # The seed's five titles designed for people with personal recovery experience,
        # then the senior and supervisory titles that give them somewhere to go [V].
        _peer("recovery_support_specialist", "Recovery Support Specialist", True, PROFESSIONAL,
              ("senior_recovery_support_specialist", "case_manager")),
        _peer("peer_support_specialist", "Peer Support Specialist", True, PROFESSIONAL,
              ("senior_recovery_support_specialist", "case_manager")),
        _peer("recovery_coach", "Recovery Coach", True, PROFESSIONAL,
              ("senior_recovery_support_specialist",)),
        _peer("engagement_specialist", "Engagement Specialist", False, ENTRY,
              ("recovery_support_specialist", "peer_support_specialist"),
              NON_CHARTING_PEER_DUTIES),
        _peer("ambassador_wellness_recovery", "Ambassador for Wellness and Recovery", False,
              ENTRY, ("recovery_support_specialist", "recovery_coach"),
              NON_CHARTING_PEER_DUTIES),
        _peer("senior_recovery_support_specialist", "Senior Recovery Support Specialist", True,
              SENIOR, ("recovery_services_supervisor", "program_manager"),
              (*PEER_DUTIES, "Mentor newer recovery support staff")),
        _peer("recovery_services_supervisor", "Recovery Services Supervisor", False, SUPERVISORY,
              ("director",), (SUPERVISE, "Link recovery support staff to executive management")),
        # Other staff.
        _other("clinician", "Clinician", True, SENIOR, (DOCUMENT, TEAM, "Provide treatment"),
               DEGREE, ("clinical_deputy", "program_manager")),
        _other("case_manager", "Case Manager", True, PROFESSIONAL, (OPTIONS, DOCUMENT, TEAM),
               DEGREE + TWO_YEARS, ("clinician", "program_manager")),
        _other("program_manager", "Program Manager", False, SUPERVISORY, (SUPERVISE,),
               DEGREE + TWO_YEARS, ("director",)),
        _other("clinical_deputy", "Clinical Deputy", True, SUPERVISORY,
               (SUPERVISE, DOCUMENT, "Recommend on dual relationships"), DEGREE + TWO_YEARS,
               ("director",)),
        _other("director", "Director", False, EXECUTIVE, ("Lead the agency",), DEGREE + TWO_YEARS),
        _other("county_counsel", "County Counsel", False, SENIOR, ("Advise on policy",), DEGREE),
        _other("privacy_officer", "Privacy Officer", False, SENIOR,
               ("Grant and review access to charts",), DEGREE),
        _other("auditor", "Auditor", False, PROFESSIONAL, ("Audit the record",), DEGREE),
        _other("hr_specialist", "Human Resources Specialist", False, PROFESSIONAL,
               ("Hire, credential and train staff",), DEGREE),
    )
}


def highest_reachable(code: str, catalogue: Mapping[str, JobTitle]) -> JobTitle:
    """The highest-level title reachable from `code` (itself included)."""
    best, todo, seen = catalogue[code], [code], {code}
    while todo:
        title = catalogue[todo.pop()]
        best = title if title.level > best.level else best
        for nxt in title.advances_to:
            if nxt in catalogue and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return best


def _reaches_supervisory(code: str, catalogue: Mapping[str, JobTitle]) -> bool:
    return highest_reachable(code, catalogue).level >= SUPERVISORY


def career_path_problems(catalogue: Mapping[str, JobTitle]) -> list[str]:
    """What keeps peer titles from a career path comparable to other staff's [V]: each
    next title exists and is no step down (a lateral move opens another track); a peer
    title below the top has a next title and a path to a supervisory title, and reaches
    as high as any other staff's title at its level or below."""
    problems = []
    for title in catalogue.values():
        for nxt in title.advances_to:
            if nxt not in catalogue or catalogue[nxt].level < title.level:
                problems.append(f"{title.code} → {nxt} is a step down or to an unknown title")
    others = [t for t in catalogue.values() if not t.peer]
    for title in (t for t in catalogue.values() if t.peer):
        if title.level < EXECUTIVE and not title.advances_to:
            problems.append(f"peer title {title.code} leads nowhere")
        elif not _reaches_supervisory(title.code, catalogue):
            problems.append(f"peer title {title.code} has no path to a supervisory title")
        peers_top = highest_reachable(title.code, catalogue).level
        for other in (o for o in others if o.level <= title.level):
            if highest_reachable(other.code, catalogue).level > peers_top:
                problems.append(
                    f"peer title {title.code} tops out below {other.code}'s path"
                )
    return problems


def check_career_paths(catalogue: Mapping[str, JobTitle]) -> None:
    problems = career_path_problems(catalogue)
    if problems:
        raise RuleViolation("career_path", "; ".join(problems))
