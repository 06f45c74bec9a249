"""Every subjects event round-trips through the encrypted store on each backend,
and no legal name, birth date or linked staff id is stored in plaintext."""

from __future__ import annotations

import hmac
from datetime import date

from domain.subjects import SubjectsApplication
from domain.subjects.identity import SUBJECT_INDEX_ID, identity_uuid
from ops.bootstrap import System

NAME = "Philippa Quenby-Zaragoza"
BIRTH = date(1979, 3, 14)
STAFF = "staff-ZEBRA-77"
GROUP = "grp-DISTINCTIVE-GROUP"


def hasher(value: str) -> str:
    return hmac.new(b"k" * 32, value.encode(), "sha256").hexdigest()


def exercise_every_event(app: SubjectsApplication) -> str:
    pseudonym, _ = app.enrol(
        NAME, BIRTH, "employee", STAFF, program_labels=["PSY"], enrolled_on=date(2024, 5, 1)
    )
    app.add_group(pseudonym, GROUP, date(2024, 5, 2))
    app.end_group(pseudonym, GROUP, date(2024, 6, 1))
    app.assign_clinician(pseudonym, "staff-clin", set())
    app.remove_clinician(pseudonym, "staff-clin")
    app.add_labels(pseudonym, ["SUD"])
    app.set_confidentiality(pseudonym, "V")
    return pseudonym


def test_a_fresh_application_reads_back_equal_state(system: System) -> None:
    app = SubjectsApplication(system.infrastructure, hasher)
    pseudonym = exercise_every_event(app)
    fresh = SubjectsApplication(system.infrastructure, hasher)
    assert fresh.get(pseudonym) == app.get(pseudonym)
    assert fresh.identity(pseudonym) == app.identity(pseudonym)
    assert fresh.list_pseudonyms() == [pseudonym]
    assert fresh.resolve(pseudonym, "integration test", ["director"])["legal_name"] == NAME
    assert fresh.get(pseudonym).version == 7


def test_no_secret_is_stored_in_plaintext(system: System) -> None:
    app = SubjectsApplication(system.infrastructure, hasher)
    pseudonym = exercise_every_event(app)
    ids = (app.get(pseudonym).id, identity_uuid(pseudonym), SUBJECT_INDEX_ID)
    rows = [row for i in ids for row in system.infrastructure.recorder.select_events(i)]
    assert len(rows) == 7 + 1 + 3  # subject, identity, index (started, marked, listed)
    for row in rows:
        for secret in (NAME, BIRTH.isoformat(), STAFF, GROUP, pseudonym):
            assert secret.encode() not in row.state
