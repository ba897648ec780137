import datetime as dt

import pytest

from certsmith.api.duration import format_go_duration, parse_go_duration

PARSE_CASES = [
    ("2160h", dt.timedelta(hours=2160)),
    ("1h30m", dt.timedelta(hours=1, minutes=30)),
    ("90s", dt.timedelta(seconds=90)),
    ("1.5h", dt.timedelta(minutes=90)),
    ("-5m", dt.timedelta(minutes=-5)),
    ("0", dt.timedelta(0)),
    ("300ms", dt.timedelta(milliseconds=300)),
    ("2h45m10.5s", dt.timedelta(hours=2, minutes=45, seconds=10.5)),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_go_duration_reads_go_syntax(text, expected):
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "1d", "h", "1h 30m", "abc"])
def test_parse_go_duration_rejects_non_go_syntax(text):
    with pytest.raises(ValueError, match="time: "):
        parse_go_duration(text)


FORMAT_CASES = [
    (dt.timedelta(hours=2160), "2160h0m0s"),
    (dt.timedelta(minutes=5), "5m0s"),
    (dt.timedelta(seconds=1.5), "1.5s"),
    (dt.timedelta(0), "0s"),
    (dt.timedelta(milliseconds=250), "250ms"),
    (dt.timedelta(hours=-1), "-1h0m0s"),
]


@pytest.mark.parametrize(("delta", "expected"), FORMAT_CASES, ids=[c[1] for c in FORMAT_CASES])
def test_format_go_duration_prints_like_go(delta, expected):
    assert format_go_duration(delta) == expected
