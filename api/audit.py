"""Every request leaves exactly one audit record (DESIGN §3 item 2).

A `RequestAudit` travels with the request. A write runs inside `command()`, so its
record commits in the same transaction as its events; a read calls `read()`, which
commits the record before the data is returned (a chart read goes through `api.reads`,
which commits it with the other reads waiting at the same moment). Anything else —
refused, invalid, unknown route — is recorded by the middleware after the handler, from
the response status. If that record cannot be written, the client gets 503, not the response.

A write sent with an `Idempotency-Key` header is done at most once per principal,
action and key: its audit record takes an id derived from the three, so a retry
(after a 503 or a dropped connection, when the client cannot know whether the write
committed) finds that record and is answered 409 `AlreadyApplied` naming the earlier
request, and two copies racing each other cannot both commit (the second's audit
record collides with the first's, which rolls back its whole transaction).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.audit.trail import AuditEntry, audited_command
from domain.errors import AlreadyApplied, ConcurrencyConflict, InvalidInput
from ops.bootstrap import System

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
IDEMPOTENT_WRITES = uuid5(NAMESPACE_URL, "urn:sequester:idempotent-write")


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
    #: whether the chart access decision allowed the request (None: none was made)
    decided: bool | None = None
    #: the `Idempotency-Key` header as sent (checked when a write uses it)
    idempotency_key: str | None = None
    #: finds a stored audit entry by record id (the audit trail's `find`)
    find_record: Callable[[UUID], dict[str, Any] | None] | None = None
    #: the response holds no protected data (a hash tile, a checkpoint): served, it
    #: leaves no audit record; refused or failed, it does
    public_data: bool = False

    def entry(self, decision: str, outcome: str, rule: str | None = None,
              record_id: UUID | None = None) -> AuditEntry:
        ids = {} if record_id is None else {"record_id": record_id}
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
            **ids,
        )

    def once_id(self) -> UUID | None:
        """The audit record id of this write if it carries an idempotency key."""
        key = self.idempotency_key
        if key is None:
            return None
        if not IDEMPOTENCY_KEY.match(key):
            raise InvalidInput("the Idempotency-Key header must be 1 to 128 letters, digits, "
                               "'.', '_', ':' or '-'")
        return uuid5(IDEMPOTENT_WRITES, f"{self.principal}\x1f{self.action}\x1f{key}")

    def refuse_if_applied(self, record_id: UUID) -> None:
        """AlreadyApplied if the write with this idempotent record id has committed."""
        earlier = None if self.find_record is None else self.find_record(record_id)
        if earlier is None:
            return
        target = f" on {earlier['target']}" if earlier.get("target") else ""
        raise AlreadyApplied(
            f"this Idempotency-Key was used for {self.action}{target} by request "
            f"{earlier.get('request_id') or '(no id)'}, which committed; nothing was changed now"
        )


current: ContextVar[RequestAudit | None] = ContextVar("request_audit", default=None)


def this_request() -> RequestAudit:
    audit = current.get()
    assert audit is not None, "RequestAudit is set by the middleware for every request"
    return audit


@contextmanager
def command(action: str, target: str = "", rule: str = "role") -> Iterator[None]:
    """Run a write; its audit record commits with its events. A refusal's rule reaches
    the request's record through the error handler (`api.errors.refusal`)."""
    audit = this_request()
    audit.action, audit.target, audit.rule = action, target or audit.target, rule
    once = audit.once_id()
    if once is not None:
        audit.refuse_if_applied(once)

    def entry(aggregates: Sequence[Any]) -> AuditEntry:
        if not audit.target:  # a create names what it created
            audit.target = next((str(a.pseudonym) for a in aggregates if hasattr(a, "pseudonym")), "")
        return audit.entry("allowed", "committed", record_id=once)

    try:
        with audited_command(entry) as cmd:
            yield
    except ConcurrencyConflict:
        if once is not None:  # a copy of this write committed first
            audit.refuse_if_applied(once)
        raise
    audit.stored = audit.stored or cmd.committed


def read(system: System, action: str, target: str = "", rule: str = "role") -> None:
    """Record an allowed read; durable before the caller returns any data."""
    audit = this_request()
    audit.action, audit.target, audit.rule = action, target or audit.target, rule
    system.audit.record(audit.entry("allowed", "200"))
    audit.stored = True


def serves_public_data() -> None:
    """This request reads no protected data: if it succeeds it is not recorded (as
    `/healthz`), so that mirrors polling the log do not grow it themselves."""
    this_request().public_data = True


def decision_for(status: int) -> str:
    if status < 400:
        return "allowed"
    return "denied" if status in (401, 403) else "failed"
