"""Reading the audit trail back: every audit entry in log order, filters, and the
per-subject access report (an accounting of disclosures, HIPAA 45 CFR 164.528).

Entries are `AuditEntry.public()` dicts: they carry the public rule only, never the
Director's note behind a sequestration denial.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from eventsourcing.utils import get_topic

from domain.audit.trail import DECISIONS, AuditRecord
from domain.errors import InvalidInput
from domain.subjects.pseudonym import check_pseudonym

#: The stored topic of an audit record; the only events `iter_audit_entries` decrypts.
AUDIT_RECORD_TOPIC = get_topic(AuditRecord.Recorded)  # type: ignore[attr-defined]
PAGE_SIZE = 500
#: What an access report shows of each entry, in this order.
REPORT_FIELDS = (
    "at",
    "principal",
    "roles",
    "action",
    "purpose",
    "decision",
    "rule",
    "request_id",
    "record_id",
)


def entry_time(entry: dict[str, Any]) -> datetime:
    """An entry's time, whether it comes from the store (a datetime) or from JSON."""
    at = entry.get("at")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            raise InvalidInput("an audit entry's time is not an ISO 8601 date and time") from None
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidInput("an audit entry's time must be a timezone-aware date and time")
    return at


def iter_audit_entries(system: Any, after: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """(log position, entry) for every audit record after `after`, in log order.

    Reads the shared log page by page, asking the recorder for audit records only, so
    no domain event is decrypted on the way."""
    recorder = system.infrastructure.recorder
    mapper = system.infrastructure.mapper
    position = after
    while True:
        page = recorder.select_notifications(
            position, PAGE_SIZE, topics=[AUDIT_RECORD_TOPIC], inclusive_of_start=False
        )
        for notification in page:
            domain_event = mapper.to_domain_event(notification)
            yield notification.id, dict(domain_event.entry)
            position = notification.id
        if len(page) < PAGE_SIZE:
            return


def _check_window(since: datetime | None, until: datetime | None) -> None:
    for name, value in (("since", since), ("until", until)):
        if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
            raise InvalidInput(f"{name} must be a timezone-aware date and time")
    if since is not None and until is not None and until < since:
        raise InvalidInput("until is before since")


def _action_matches(pattern: str | None, action: str) -> bool:
    """Exact, or a family: `chart.*` matches `chart.read` and `chart.write`."""
    if pattern is None:
        return True
    if pattern.endswith(".*"):
        return action.startswith(pattern[:-1])
    return action == pattern


def filter_entries(
    entries: Iterable[dict[str, Any]],
    principal: str | None = None,
    target: str | None = None,
    action: str | None = None,
    decision: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The entries matching every filter given; the window is since ≤ at < until."""
    if decision is not None and decision not in DECISIONS:
        raise InvalidInput(f"decision must be one of {list(DECISIONS)}")
    _check_window(since, until)
    for entry in entries:
        at = entry_time(entry)
        if (
            (principal is None or entry.get("principal") == principal)
            and (target is None or entry.get("target") == target)
            and _action_matches(action, str(entry.get("action", "")))
            and (decision is None or entry.get("decision") == decision)
            and (since is None or since <= at)
            and (until is None or at < until)
        ):
            yield entry


def report_line(entry: dict[str, Any]) -> dict[str, Any]:
    """One line of the report: who, in which roles, did what, when, why, and the verdict."""
    line = {name: entry.get(name) for name in REPORT_FIELDS}
    line["at"] = entry_time(entry).isoformat()
    line["roles"] = list(entry.get("roles") or [])
    line["record_id"] = None if line["record_id"] is None else str(line["record_id"])
    return line


def access_report(entries: Iterable[dict[str, Any]], pseudonym: str) -> list[dict[str, Any]]:
    """Every access to one subject's record, allowed or not, in time order.

    An entry counts when its target is the subject's pseudonym (chart reads and writes,
    break-glass, resolutions of the identity). Entries at the same instant keep their
    log order."""
    canonical = check_pseudonym(pseudonym)
    mine = [e for e in entries if str(e.get("target", "")).upper() == canonical]
    mine.sort(key=entry_time)
    return [report_line(e) for e in mine]
