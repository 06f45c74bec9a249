"""The audit trail's application: standalone records (reads, refusals) and look-ups."""

from __future__ import annotations

from uuid import UUID

from domain.audit.trail import AuditEntry, AuditRecord, records_for
from domain.base import ContextApplication


class AuditTrail(ContextApplication):
    name = "audit"

    def record(self, entry: AuditEntry) -> int:
        """Store one entry on its own (a read before its data is returned, or a command
        that stored nothing); durable when this returns."""
        return self.commit(*records_for(entry), attach_audit=False)

    def get(self, record_id: UUID) -> AuditRecord:
        record: AuditRecord = self.load(record_id, f"audit record {record_id}")
        return record
