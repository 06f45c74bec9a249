"""The demo agency loads through the application services, idempotently."""

from __future__ import annotations

from ops.bootstrap import System, checkpoint_signer
from ops.demo import STAFF, SUBJECTS, load_demo
from ops.ledger_verify import verify
from tests import canaries, dbutil

canaries.plant(*(s[0] for s in SUBJECTS))


def test_demo_loads_once_and_the_log_verifies(system: System) -> None:
    assert load_demo(system) == len(STAFF) + len(SUBJECTS)
    rows = len(dbutil.rows(system))
    assert load_demo(system) == 0
    assert len(dbutil.rows(system)) == rows
    assert len(system.subjects.list_pseudonyms()) == len(SUBJECTS)
    assert system.ledger is not None
    assert verify(system.ledger, [checkpoint_signer(system.settings).verifier_key()]).ok


def test_demo_exercises_the_rules(system: System) -> None:
    from datetime import UTC, datetime

    from domain.access.policy import Principal

    load_demo(system)
    riley, quinn, _, figure, _ = system.subjects.list_pseudonyms()
    now = datetime.now(UTC)
    peer = Principal("R-001", frozenset({"peer_staff"}))
    assert system.chart_access.decide(peer, "read", figure, "TREAT", now).rule == (
        "grant_unconfirmed")
    assert system.chart_access.link_denial("R-001", figure, "TREAT", now.date()) is not None
    assert system.chart_access.decide(peer, "read", riley, "TREAT", now).rule == "no_grant"
    assert system.chart_access.link_denial("R-001", riley, "TREAT", now.date()).rule == (
        "self_access")
    clinician = Principal("C-002", frozenset({"clinician"}))
    assert system.chart_access.decide(clinician, "read", riley, "TREAT", now).allowed
    crisis = Principal("C-003", frozenset({"clinician"}))
    assert system.chart_access.decide(crisis, "read", quinn, "ETREAT", now).rule == "break_glass"
