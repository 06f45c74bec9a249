"""Sequestered subjects and the Director's office directory [seed: Confidentiality II]."""

from domain.subjects.application import SubjectsApplication
from domain.subjects.identity import IdentityRecord, SubjectIndex
from domain.subjects.pseudonym import check_pseudonym, new_pseudonym
from domain.subjects.subject import (
    CATEGORIES,
    PROGRAM_LABELS,
    SEQUESTRATION_DENIAL,
    Subject,
    subject_uuid,
)

__all__ = [
    "CATEGORIES",
    "PROGRAM_LABELS",
    "SEQUESTRATION_DENIAL",
    "IdentityRecord",
    "Subject",
    "SubjectIndex",
    "SubjectsApplication",
    "check_pseudonym",
    "new_pseudonym",
    "subject_uuid",
]
