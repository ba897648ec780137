from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from certsmith.apiserver.jsonlimits import MAX_DEPTH, json_problem


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = {"a": value} if i % 2 else [value]
    return value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [1, 2.5, None, True, "s"]}, None),
        (nested(MAX_DEPTH), None),
        (nested(MAX_DEPTH + 1), f"exceeded max depth of {MAX_DEPTH}"),
        ({"when": dt.date(2020, 1, 1)}, None),
        ({"n": 2**64 - 1, "m": -(2**63)}, None),
        ({"n": 2**64}, f"number {2**64} overflows a 64-bit integer"),
        ({"n": -(2**63) - 1}, f"number {-(2**63) - 1} overflows a 64-bit integer"),
        ([float("nan")], "number nan is not finite"),
        ({1: "a"}, "object key 1 is not a string"),
        ({"s": {1, 2}}, "unsupported value of type set"),
        ({"b": b"x"}, "unsupported value of type bytes"),
        (["\ud800"], "string '\\ud800' is not valid UTF-8"),
        ({"\udfff": 1}, "object key '\\udfff' is not valid UTF-8"),
        ({"é": "ü"}, None),
    ],
    ids=[
        "plain json",
        "at the depth limit",
        "past the depth limit",
        "yaml date",
        "64-bit bounds",
        "above uint64",
        "below int64",
        "nan",
        "integer key",
        "yaml set",
        "yaml binary",
        "lone surrogate",
        "lone surrogate key",
        "non-ascii",
    ],
)
def test_json_problem_names_what_the_store_could_not_write(value: Any, problem: str | None) -> None:
    assert json_problem(value) == problem
