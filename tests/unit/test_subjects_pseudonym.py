"""Pseudonyms: shape, randomness, and strict validation of untrusted input."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.subjects.pseudonym import ALPHABET, RANDOM_BITS, check_pseudonym, new_pseudonym


def test_a_new_pseudonym_has_the_documented_shape() -> None:
    pseudonym = new_pseudonym()
    assert len(pseudonym) == len("SQ-7F3K-Q9XM")
    assert pseudonym.startswith("SQ-") and pseudonym[7] == "-"
    assert check_pseudonym(pseudonym) == pseudonym


def test_pseudonyms_carry_at_least_40_random_bits() -> None:
    assert RANDOM_BITS >= 40
    assert len(ALPHABET) == 32 and not set("ILOU") & set(ALPHABET)


def test_a_thousand_pseudonyms_are_distinct_and_valid() -> None:
    drawn = [new_pseudonym() for _ in range(1000)]
    assert len(set(drawn)) == 1000
    assert all(check_pseudonym(p) == p for p in drawn)


def test_every_symbol_of_the_alphabet_turns_up() -> None:
    symbols = {c for _ in range(1000) for c in new_pseudonym()[3:].replace("-", "")}
    assert symbols == set(ALPHABET)


def test_a_lower_case_pseudonym_is_accepted_and_canonicalised() -> None:
    assert check_pseudonym("sq-7f3k-q9xm") == "SQ-7F3K-Q9XM"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "SQ-7F3K",
        "SQ-7F3K-Q9XM-ABCD",
        "SQ-7F3K-Q9XMX",
        "XX-7F3K-Q9XM",
        "SQ-7F3K-Q9XO",  # O is not in the alphabet
        "SQ-7F3I-Q9XM",  # nor is I
        "SQ-7F3K-Q9XM\n",
        " SQ-7F3K-Q9XM",
        "SQ-7F3K/Q9XM",
        "../../etc/passwd",
        "SQ-7F3K-Q9XM/../x",
        "SQ-7F3K-Q9%4D",
        "SQ-7F3K-Q9X\u0130",
        "SQ-7F3K-Q9X\u017f",
        "x" * 10_000,
        None,
        12345,
    ],
)
def test_a_malformed_pseudonym_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="malformed pseudonym"):
        check_pseudonym(bad)


def test_the_refusal_does_not_echo_the_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_pseudonym("Jane Roe")
    assert "Jane" not in caught.value.detail
