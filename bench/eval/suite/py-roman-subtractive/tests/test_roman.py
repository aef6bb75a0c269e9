import pytest

from numerals.roman import from_roman, to_roman


@pytest.mark.parametrize(
    "number, text",
    [(1, "I"), (4, "IV"), (9, "IX"), (14, "XIV"), (40, "XL"), (90, "XC"), (400, "CD"),
     (944, "CMXLIV"), (1994, "MCMXCIV"), (2024, "MMXXIV"), (3999, "MMMCMXCIX")],
)
def test_known_numerals(number, text):
    assert to_roman(number) == text


def test_round_trip():
    for n in range(1, 4000):
        assert from_roman(to_roman(n)) == n


def test_no_letter_four_times():
    for n in range(1, 4000):
        assert not any(c * 4 in to_roman(n) for c in "IXC")


@pytest.mark.parametrize("number", [0, -3, 4000])
def test_out_of_range(number):
    with pytest.raises(ValueError):
        to_roman(number)
