"""What a chart entry may record: the catalogue of activity types, and the rule that no
entry charts a self-help or 12-step activity [seed: Confidentiality I.C].

One member taking notes on others' comments breaks the equality and anonymity those
groups assume, so such activities are refused by type and by any activity type or
service code whose text names them. Error messages name the field and the kind of
activity matched, never the submitted text itself (it may be free text).
"""

from __future__ import annotations

import re
import unicodedata

from domain.errors import InvalidInput, RuleViolation

NO_SELF_HELP_CHARTING = "no_self_help_charting"

#: Activity types an entry may record, with the name a director reads.
ACTIVITY_TYPES: dict[str, str] = {
    "individual_session": "Individual session",
    "group_session": "Group session (clinician-led)",
    "family_session": "Family session",
    "case_management": "Case management",
    "crisis_intervention": "Crisis intervention",
    "medication_management": "Medication management",
    "assessment": "Assessment",
    "treatment_planning": "Treatment planning",
    "peer_support": "Peer support",
    "care_coordination": "Care coordination",
    "collateral_contact": "Collateral contact",
    "psychosocial_rehabilitation": "Psychosocial rehabilitation",
    "community_support": "Community support",
    "discharge_planning": "Discharge planning",
}

#: Activity types that are self-help or 12-step activities and may never be charted.
FORBIDDEN_ACTIVITY_TYPES: frozenset[str] = frozenset(
    {
        "self_help",
        "self_help_group",
        "twelve_step",
        "twelve_step_meeting",
        "aa_meeting",
        "na_meeting",
        "ca_meeting",
        "al_anon_meeting",
        "mutual_aid_meeting",
        "smart_recovery_meeting",
        "recovery_fellowship_meeting",
    }
)

#: Phrases that, found in normalised text, mark a self-help or 12-step activity.
_FORBIDDEN_MENTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:12|twelve) ?steps?\b"), "a 12-step activity"),
    (re.compile(r"\bself ?help\b"), "a self-help activity"),
    (re.compile(r"\b(?:a ?a|n ?a|c ?a) (?:meetings?|groups?)\b"), "an AA/NA-type meeting"),
    (re.compile(r"\b(?:alcoholics|narcotics|cocaine) anonymous\b"), "an AA/NA-type meeting"),
    (re.compile(r"\bal ?anon\b"), "an Al-Anon meeting"),
    (re.compile(r"\bmutual aid\b"), "a mutual-aid group"),
    (re.compile(r"\bsmart recovery\b"), "a mutual-aid group"),
)
_IDENTIFIER = re.compile(r"[a-z0-9_]{1,40}")
MAX_SERVICE_CODE = 64


def normalise(text: str) -> str:
    """Lower case, compatibility-folded, punctuation and underscores as single spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def forbidden_mention(text: str) -> str | None:
    """The kind of self-help or 12-step activity `text` names, if it names one."""
    normalised = normalise(text)
    for pattern, kind in _FORBIDDEN_MENTIONS:
        if pattern.search(normalised):
            return kind
    return None


def _refuse(field: str, kind: str) -> RuleViolation:
    return RuleViolation(
        NO_SELF_HELP_CHARTING,
        f"the {field} names {kind}; chart entries may not record self-help or 12-step "
        "activities, because one member charting others breaks the equality and anonymity "
        "those groups assume [Confidentiality I.C]. Record the clinical service instead, "
        "or leave the activity uncharted",
    )


def check_activity_type(activity_type: str) -> str:
    """The activity type, if it is in the catalogue and not a self-help or 12-step activity."""
    code = activity_type.strip()
    if code in FORBIDDEN_ACTIVITY_TYPES:
        raise _refuse(f"activity type {code!r}", "a self-help or 12-step activity")
    kind = forbidden_mention(code)
    if kind is not None:
        raise _refuse("activity type", kind)
    if code not in ACTIVITY_TYPES:
        shown = f"{code!r} " if _IDENTIFIER.fullmatch(code) else ""
        raise InvalidInput(
            f"activity type {shown}is not in the catalogue; known activity types are "
            f"{sorted(ACTIVITY_TYPES)}"
        )
    return code


def check_service_code(service_code: str | None) -> str | None:
    """The service code (None when absent), if it does not name a self-help or 12-step activity."""
    if service_code is None:
        return None
    code = service_code.strip()
    if not code:
        raise InvalidInput("the service code, when given, must not be blank")
    if len(code) > MAX_SERVICE_CODE:
        raise InvalidInput(f"the service code must be at most {MAX_SERVICE_CODE} characters")
    kind = forbidden_mention(code)
    if kind is not None:
        raise _refuse("service code", kind)
    return code
