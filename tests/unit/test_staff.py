"""The staff member aggregate and application, in memory."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import AlreadyExists, InvalidInput, NotFound, RuleViolation
from ops.bootstrap import System


def hire(system: System, staff_id: str = "S-1", **kw: object) -> int:
    args: dict[str, object] = {
        "display_name": "A. Person", "job_title": "clinician", "roles": ["clinician"],
        "hired_on": date(2024, 1, 8),
    }
    args.update(kw)
    return system.staff.hire(staff_id, **args)  # type: ignore[arg-type]


def test_hire_records_title_roles_supervisor(memory_system: System) -> None:
    hire(memory_system, "M-1", roles=["manager"], job_title="program_manager")
    hire(memory_system, "S-1", supervisor_id="M-1", roles=["peer_staff", "clinician"])
    member = memory_system.staff.get("S-1")
    assert (member.supervisor_id, member.roles, member.charts) == ("M-1", ["clinician", "peer_staff"], True)


def test_title_that_does_not_chart(memory_system: System) -> None:
    hire(memory_system, job_title="engagement_specialist", roles=["peer_staff"])
    assert memory_system.staff.get("S-1").charts is False


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"job_title": "wizard"}, "job title 'wizard' is not in the catalogue"),
        ({"roles": ["root"]}, r"unknown role\(s\) \['root'\]"),
        ({"roles": []}, "at least one role"),
        ({"display_name": " "}, "must not be blank"),
    ],
)
def test_bad_hire_input_is_named_and_nothing_is_stored(
    memory_system: System, kw: dict[str, object], message: str
) -> None:
    before = memory_system.staff.position()
    with pytest.raises(InvalidInput, match=message):
        hire(memory_system, **kw)
    assert memory_system.staff.position() == before


def test_staff_id_is_unique(memory_system: System) -> None:
    hire(memory_system)
    with pytest.raises(AlreadyExists, match="S-1 already exists"):
        hire(memory_system)


def test_unknown_supervisor_and_self_supervision_are_refused(memory_system: System) -> None:
    with pytest.raises(NotFound, match="staff member M-9 does not exist"):
        hire(memory_system, supervisor_id="M-9")
    with pytest.raises(RuleViolation, match="cannot supervise itself"):
        hire(memory_system, supervisor_id="S-1")


def test_current_agreement_depends_on_version_date_and_separation(memory_system: System) -> None:
    hire(memory_system)
    assert not memory_system.staff.get("S-1").has_current_agreement(None, date(2024, 2, 1))
    memory_system.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 10))
    member = memory_system.staff.get("S-1")
    assert member.has_current_agreement(None, date(2024, 1, 10))
    assert not member.has_current_agreement(None, date(2024, 1, 9))
    assert member.has_current_agreement("2024.1", date(2024, 2, 1))
    assert not member.has_current_agreement("2025.1", date(2025, 2, 1))
    memory_system.staff.separate("S-1", date(2025, 1, 1), "resigned")
    assert not memory_system.staff.get("S-1").has_current_agreement(None, date(2025, 2, 1))


def test_same_agreement_twice_is_refused(memory_system: System) -> None:
    hire(memory_system)
    memory_system.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 10))
    with pytest.raises(RuleViolation, match="already signed agreement version 2024.1"):
        memory_system.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 11))


def test_separated_staff_cannot_change(memory_system: System) -> None:
    hire(memory_system)
    memory_system.staff.separate("S-1", date(2025, 1, 1), "resigned")
    with pytest.raises(RuleViolation, match="separated on 2025-01-01"):
        memory_system.staff.assign_roles("S-1", ["manager"])


def test_separation_before_hire_is_refused(memory_system: System) -> None:
    hire(memory_system)
    with pytest.raises(InvalidInput, match="before the hire date"):
        memory_system.staff.separate("S-1", date(2020, 1, 1), "x")


def test_replay_gives_each_version(memory_system: System) -> None:
    hire(memory_system)
    memory_system.staff.sign_agreement("S-1", "2024.1", date(2024, 1, 10))
    memory_system.staff.assign_roles("S-1", ["manager"])
    assert memory_system.staff.get("S-1", version=1).roles == ["clinician"]
    assert memory_system.staff.get("S-1", version=2).agreements[0]["version"] == "2024.1"
    assert memory_system.staff.get("S-1").roles == ["manager"]
