"""Every request leaves exactly one audit record (DESIGN §3 item 2).

A `RequestAudit` travels with the request. A write runs inside `command()`, so its
record commits in the same transaction as its events; a read calls `read()`, which
commits the record before the data is returned. Anything else — refused, invalid,
unknown route — is recorded by the middleware after the handler, from the response
status. If that record cannot be written, the client gets 503, not the response.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.audit.trail import AuditEntry, audited_command
from domain.errors import PermissionDenied, RuleViolation
from ops.bootstrap import System


@dataclass
class RequestAudit:
    request_id: str
    action: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    principal: str = "anonymous"
    roles: list[str] = field(default_factory=list)
    target: str = ""
    purpose: str | None = None
    rule: str = ""
    director_rule: str | None = None
    justification: str = ""
    stored: bool = False

    def entry(self, decision: str, outcome: str, rule: str | None = None) -> AuditEntry:
        return AuditEntry(
            principal=self.principal,
            roles=sorted(self.roles),
            action=self.action,
            target=self.target,
            decision=decision,
            rule=rule or self.rule,
            at=self.at,
            request_id=self.request_id,
            purpose=self.purpose,
            outcome=outcome,
            director_rule=self.director_rule,
            justification=self.justification,
        )


current: ContextVar[RequestAudit | None] = ContextVar("request_audit", default=None)


def this_request() -> RequestAudit:
    audit = current.get()
    assert audit is not None, "RequestAudit is set by the middleware for every request"
    return audit


@contextmanager
def rule_kept() -> Iterator[None]:
    """A refusal by a domain rule keeps that rule's name on the request's audit record
    (not only "role"); re-raised for api/errors.py to map."""
    try:
        yield
    except (PermissionDenied, RuleViolation) as e:
        this_request().rule = e.rule
        raise


@contextmanager
def command(action: str, target: str = "", rule: str = "role") -> Iterator[None]:
    """Run a write; its audit record commits with its events (a refusal keeps its rule)."""
    with rule_kept(), _command(action, target, rule):
        yield


@contextmanager
def _command(action: str, target: str, rule: str) -> Iterator[None]:
    audit = this_request()
    audit.action, audit.target, audit.rule = action, target or audit.target, rule
    def entry(aggregates: Sequence[Any]) -> AuditEntry:
        if not audit.target:  # a create names what it created
            audit.target = next((str(a.pseudonym) for a in aggregates if hasattr(a, "pseudonym")), "")
        return audit.entry("allowed", "committed")

    with audited_command(entry) as cmd:
        yield
    audit.stored = audit.stored or cmd.committed


def read(system: System, action: str, target: str = "", rule: str = "role") -> None:
    """Record an allowed read; durable before the caller returns any data."""
    audit = this_request()
    audit.action, audit.target, audit.rule = action, target or audit.target, rule
    system.audit.record(audit.entry("allowed", "200"))
    audit.stored = True


def decision_for(status: int) -> str:
    if status < 400:
        return "allowed"
    return "denied" if status in (401, 403) else "failed"
