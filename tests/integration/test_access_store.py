"""Every access event round-trips through the encrypted store on SQLite and PostgreSQL,
and no justification or reason is stored in plaintext."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.access import AccessApplication
from domain.access.grants import ledger_id
from ops.bootstrap import System

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SUBJECT = UUID("00000000-0000-4000-8000-000000000001")
CHART = "SQ-7F3K-Q9XM"
PO = frozenset({"privacy_officer"})
JUSTIFICATION = "zebra-justification-4471"
REVOCATION = "zebra-revocation-4472"
REASON = "zebra-breakglass-4473"
NOTES = "zebra-review-4474"


def history(app: AccessApplication) -> tuple[UUID, UUID]:
    """Granted, Revoked, Invoked, Reviewed, and the ledger's Opened/…Recorded."""
    gid, _ = app.grant(
        "clin-1", CHART, SUBJECT, "write", "TREAT", NOW + timedelta(days=30),
        JUSTIFICATION, "po-1", NOW, actor_roles=PO,
    )  # fmt: skip
    app.revoke(gid, "po-1", REVOCATION, NOW + timedelta(hours=1), actor_roles=PO)
    bid, _ = app.invoke_break_glass(
        "clin-1", CHART, SUBJECT, "BTG", REASON, NOW + timedelta(hours=2),
        actor_roles=frozenset({"clinician"}),
    )  # fmt: skip
    app.review_break_glass(
        bid, "po-1", "inappropriate", NOTES, NOW + timedelta(days=1), actor_roles=PO
    )
    return gid, bid


def state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_every_event_round_trips_and_is_encrypted(system: System) -> None:
    app = AccessApplication(system.infrastructure)
    gid, bid = history(app)
    fresh = AccessApplication(system.infrastructure)
    assert state(fresh.get_grant(gid)) == state(app.get_grant(gid))
    assert state(fresh.get_break_glass(bid)) == state(app.get_break_glass(bid))
    assert fresh.facts_for("clin-1", CHART) == app.facts_for("clin-1", CHART)
    assert fresh.get_grant(gid).revocation_reason == REVOCATION
    assert fresh.get_break_glass(bid).review_notes == NOTES
    recorder = system.infrastructure.recorder
    rows = [
        row
        for aggregate_id in (gid, bid, ledger_id("clin-1", CHART))
        for row in recorder.select_events(aggregate_id)
    ]
    assert len(rows) == 7
    for row in rows:
        for secret in (JUSTIFICATION, REVOCATION, REASON, NOTES, CHART, "clin-1"):
            assert secret.encode() not in row.state
