"""Every read model sequester runs, built with what they need."""

from __future__ import annotations

from domain.dual_relationships.rules import DualRelationshipPolicy
from projections.audit_index import AuditIndex
from projections.base import Projection
from projections.break_glass_queue import BreakGlassQueue
from projections.chart_entries import ChartEntries
from projections.chart_index import ChartIndex
from projections.dual_relationship_queue import DualRelationshipQueue
from projections.effective_access import EffectiveAccess
from projections.sealing import Seal, Unseal
from projections.subject_list import SubjectList


def read_models(
    seal: Seal, unseal: Unseal, policy: DualRelationshipPolicy | None = None
) -> list[Projection]:
    """The read models; `seal`/`unseal` protect chart notes (see `KeyringSealer`),
    `policy` is the agency's dual-relationship policy (the queue's due dates)."""
    return [
        SubjectList(seal, unseal),
        ChartIndex(),
        ChartEntries(seal, unseal),
        DualRelationshipQueue(policy),
        BreakGlassQueue(),
        EffectiveAccess(),
        AuditIndex(),
    ]
