import pytest

from timefmt.durations import format_duration, parse_duration


def test_hours_and_minutes_still_work():
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2H") == 7200


def test_seconds_and_days():
    assert parse_duration("90s") == 90
    assert parse_duration("1d2h") == 93600
    assert parse_duration("1m 5s") == 65


def test_round_trip_with_seconds():
    assert parse_duration(format_duration(3725)) == 3725


@pytest.mark.parametrize("text", ["5x", "", "abc", "5", "1h5"])
def test_bad_text_is_a_value_error(text):
    with pytest.raises(ValueError):
        parse_duration(text)
