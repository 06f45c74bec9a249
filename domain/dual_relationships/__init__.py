"""Dual-relationship cases: a staff member's relationship with a client of the agency,
disclosed, reviewed and resolved under the county procedure [seed: Dual relationships]."""

from domain.dual_relationships.aggregate import Condition, DualRelationshipCase, Step
from domain.dual_relationships.application import CaseStatus, DualRelationshipsApplication
from domain.dual_relationships.rules import (
    Actor,
    Disclosure,
    DualRelationshipPolicy,
    TwoYearFinding,
)

__all__ = [
    "Actor",
    "CaseStatus",
    "Condition",
    "Disclosure",
    "DualRelationshipCase",
    "DualRelationshipPolicy",
    "DualRelationshipsApplication",
    "Step",
    "TwoYearFinding",
]
