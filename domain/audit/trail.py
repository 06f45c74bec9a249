"""The audit trail: one record per command and per read of protected data.

A command's record is saved in the same `commit()` as its events (one transaction);
a command that stores nothing (denied, invalid) gets a record of its own. A read's
record is committed before the data is returned.

Audit records carry the *public* rule of a decision only. Reads and writes of charts
are never decided on the staff↔client link, so their records need nothing more. Where a
rule resting on the link does refuse something (the Director's office's own commands,
and break-glass: the documented residual channel), the precise rule goes into a
`DirectorAuditNote` under the director KEK, saved with the record: auditors see
"sequestration", the Director's office sees why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import event

from domain.base import KEK_DIRECTOR, ProtectedAggregate

AUDIT_SUBJECT = uuid5(NAMESPACE_URL, "urn:sequester:audit-trail")
DECISIONS = ("allowed", "denied", "failed")


@dataclass(frozen=True)
class AuditEntry:
    """What happened, who asked, and what was decided. Never a name or note text."""

    principal: str  # staff id, or "anonymous"
    roles: list[str]
    action: str  # e.g. "chart.read", "grant.create", "http.request"
    target: str  # a pseudonym, an id, a route; "" when there is none
    decision: str  # allowed | denied | failed
    rule: str  # the public rule that decided (e.g. "grant", "role", "sequestration")
    at: datetime
    request_id: str = ""
    purpose: str | None = None
    outcome: str = ""  # e.g. an HTTP status, an error kind
    justification: str = ""  # a stated reason (e.g. for resolving a pseudonym)
    director_rule: str | None = None  # the precise link rule; stored under the director KEK
    record_id: UUID = field(default_factory=uuid4)

    def public(self) -> dict[str, Any]:
        """Every field but the director's rule (`asdict` without its deep copies: one
        entry is stored per request)."""
        data = {f.name: getattr(self, f.name) for f in PUBLIC_FIELDS}
        data["roles"] = list(self.roles)
        return data


PUBLIC_FIELDS = tuple(f for f in fields(AuditEntry) if f.name != "director_rule")


class AuditRecord(ProtectedAggregate):
    """One audit entry; its own aggregate, encrypted under the audit trail's data key."""

    @property
    def data_subject_id(self) -> UUID:
        return AUDIT_SUBJECT

    @event("Recorded")
    def __init__(self, entry: dict[str, Any], id: UUID | None = None) -> None:
        self.entry = entry


class DirectorAuditNote(ProtectedAggregate):
    """The precise rule behind a sequestration denial, readable only with the director KEK."""

    kek = KEK_DIRECTOR

    @property
    def data_subject_id(self) -> UUID:
        return AUDIT_SUBJECT

    @event("Noted")
    def __init__(self, record_id: UUID, rule: str) -> None:
        self.record_id, self.rule = record_id, rule


def records_for(entry: AuditEntry) -> list[ProtectedAggregate]:
    """The aggregates that store one entry (and its director note, if any)."""
    record = AuditRecord(entry=entry.public(), id=entry.record_id)
    if entry.director_rule is None:
        return [record]
    return [record, DirectorAuditNote(record_id=entry.record_id, rule=entry.director_rule)]


@dataclass
class _Command:
    make: Callable[[Sequence[Any]], AuditEntry]
    committed: bool = False
    entry: AuditEntry | None = None

    def take(self, aggregates: Sequence[Any]) -> AuditEntry:
        """Built at the commit, so it can name what the command created (a new pseudonym)."""
        if self.entry is None:
            self.entry = self.make(aggregates)
        return self.entry


_command: ContextVar[_Command | None] = ContextVar("audited_command", default=None)


@contextmanager
def audited_command(
    entry: AuditEntry | Callable[[Sequence[Any]], AuditEntry],
) -> Iterator[_Command]:
    """Attach `entry` to the next `commit()` in this context (same transaction).

    If nothing commits (the command was refused or failed), the caller must store the
    entry on its own, with the outcome: `pending_entry()` tells whether it is needed.
    """
    command = _Command(entry if callable(entry) else (lambda _: entry))
    token = _command.set(command)
    try:
        yield command
    finally:
        _command.reset(token)


def take_command_entry(aggregates: Sequence[Any] = ()) -> AuditEntry | None:
    """For `commit()`: the entry to save with this commit, once per command."""
    command = _command.get()
    if command is None or command.committed:
        return None
    command.committed = True
    return command.take(aggregates)


def give_back_command_entry(entry: AuditEntry | None) -> None:
    """For `commit()`: the save failed, so the entry still needs storing."""
    command = _command.get()
    if entry is not None and command is not None and command.entry is entry:
        command.committed = False


def with_outcome(entry: AuditEntry, decision: str, rule: str, outcome: str) -> AuditEntry:
    return replace(entry, decision=decision, rule=rule, outcome=outcome)
