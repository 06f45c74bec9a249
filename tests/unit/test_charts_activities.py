"""The activity catalogue and the no-self-help-charting rule [seed: Confidentiality I.C]."""

from __future__ import annotations

import pytest

from domain.charts.activities import (
    ACTIVITY_TYPES,
    FORBIDDEN_ACTIVITY_TYPES,
    NO_SELF_HELP_CHARTING,
    check_activity_type,
    check_service_code,
    forbidden_mention,
    normalise,
)
from domain.errors import InvalidInput, RuleViolation


def test_catalogue_and_forbidden_set_do_not_overlap() -> None:
    assert not set(ACTIVITY_TYPES) & FORBIDDEN_ACTIVITY_TYPES


@pytest.mark.parametrize("activity_type", sorted(ACTIVITY_TYPES))
def test_every_catalogued_activity_type_is_allowed(activity_type: str) -> None:
    assert check_activity_type(activity_type) == activity_type
    assert forbidden_mention(activity_type) is None


@pytest.mark.parametrize("activity_type", sorted(FORBIDDEN_ACTIVITY_TYPES))
def test_every_forbidden_activity_type_is_refused_by_rule(activity_type: str) -> None:
    with pytest.raises(RuleViolation) as err:
        check_activity_type(activity_type)
    assert err.value.rule == NO_SELF_HELP_CHARTING
    assert "Confidentiality I.C" in err.value.detail


@pytest.mark.parametrize(
    "text",
    [
        "12-step meeting",
        "Twelve Step facilitation",
        "twelve-steps",
        "12step",
        "Self-Help group",
        "selfhelp",
        "AA meeting",
        "N.A. meetings",
        "na_group",
        "Alcoholics Anonymous",
        "al-anon",
        "mutual aid",
        "SMART Recovery",
    ],
)
def test_text_naming_a_self_help_or_12_step_activity_is_recognised(text: str) -> None:
    assert forbidden_mention(text) is not None


@pytest.mark.parametrize("text", ["H0038", "90837", "N/A", "T1017 peer support", "step-down care"])
def test_ordinary_service_codes_are_not_recognised(text: str) -> None:
    assert forbidden_mention(text) is None


def test_normalise_folds_case_punctuation_and_underscores() -> None:
    assert normalise("  Twelve_Step--MEETING ") == "twelve step meeting"


def test_unknown_activity_type_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as err:
        check_activity_type("yoga")
    assert "'yoga'" in err.value.detail
    assert "individual_session" in err.value.detail


def test_unknown_free_text_activity_type_is_not_echoed() -> None:
    with pytest.raises(InvalidInput) as err:
        check_activity_type("Talked about Ubbelohde divorce")
    assert "Ubbelohde" not in err.value.detail


def test_activity_type_mentioning_12_step_is_refused_not_called_unknown() -> None:
    with pytest.raises(RuleViolation) as err:
        check_activity_type("twelve_step_facilitation_group")
    assert err.value.rule == NO_SELF_HELP_CHARTING


def test_service_code_mentioning_a_meeting_is_refused() -> None:
    with pytest.raises(RuleViolation) as err:
        check_service_code("NA meeting")
    assert err.value.rule == NO_SELF_HELP_CHARTING
    assert "NA meeting" not in err.value.detail


def test_absent_service_code_is_allowed() -> None:
    assert check_service_code(None) is None


def test_ordinary_service_code_is_kept_stripped() -> None:
    assert check_service_code(" H0038 ") == "H0038"


@pytest.mark.parametrize("code", ["   ", "X" * 65])
def test_blank_or_overlong_service_code_is_invalid(code: str) -> None:
    with pytest.raises(InvalidInput):
        check_service_code(code)
