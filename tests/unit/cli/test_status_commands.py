"""Flags and formatting of ``status``, ``inspect``, ``check`` and ``wait``."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from certsmith.cli.commands.approve import CommandError
from certsmith.cli.commands.check import duration_arg
from certsmith.cli.commands.status import relative
from certsmith.cli.commands.wait import is_ready, validate
from certsmith.cli.main import build_parser

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("wait", "certificate"), "please supply one or more Certificate names, or use --all"),
        (("wait", "certificate", "web", "--all"), "cannot specify Certificate names"),
        (("wait", "certificate", "web", "-A"), "cannot specify Certificate names"),
    ],
)
def test_wait_refuses_ambiguous_selections(argv, message):
    with pytest.raises(CommandError, match=message):
        validate(parse(*argv))


@pytest.mark.parametrize(
    "argv",
    [("wait", "certificate", "a", "b"), ("wait", "certs", "--all", "-A"), ("wait", "cert", "x")],
)
def test_wait_accepts_names_or_all(argv):
    validate(parse(*argv))


def test_parsed_defaults():
    assert parse("check", "api").wait == dt.timedelta(0)
    assert parse("check", "api").interval == dt.timedelta(seconds=5)
    assert parse("wait", "certificate", "--all").timeout == dt.timedelta(minutes=5)
    assert parse("status", "certificate", "web").output == "text"
    assert parse("status", "cert", "web", "-o", "json").output == "json"
    assert parse("inspect", "secret", "web-tls", "-n", "x").namespace == "x"


@pytest.mark.parametrize(
    ("text", "value"),
    [("2m", dt.timedelta(minutes=2)), ("1h30m", dt.timedelta(minutes=90)), ("0", dt.timedelta())],
)
def test_durations_are_go_durations(text, value):
    assert duration_arg(text) == value


@pytest.mark.parametrize("text", ["2 minutes", "-5s", ""])
def test_bad_durations_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        duration_arg(text)


@pytest.mark.parametrize(
    ("delta", "full", "short"),
    [
        (dt.timedelta(days=3, hours=4), "2026-01-05T07:04:05Z (in 3d4h)", "in 3d4h"),
        (-dt.timedelta(minutes=5, seconds=2), "2026-01-02T02:59:03Z (5m2s ago)", "5m2s ago"),
        (dt.timedelta(hours=2, minutes=1), "2026-01-02T05:05:05Z (in 2h1m)", "in 2h1m"),
        (dt.timedelta(0), "2026-01-02T03:04:05Z (in 0s)", "in 0s"),
    ],
)
def test_relative_times(delta, full, short):
    assert relative(NOW + delta, NOW) == full
    assert relative(NOW + delta, NOW, short=True) == short
    assert relative(None, NOW) == "-"


def certificate(generation: int, *conditions: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"generation": generation}, "status": {"conditions": list(conditions)}}


@pytest.mark.parametrize(
    ("cert", "ready"),
    [
        (certificate(1, {"type": "Ready", "status": "True", "observedGeneration": 1}), True),
        (certificate(2, {"type": "Ready", "status": "True", "observedGeneration": 1}), False),
        (certificate(2, {"type": "Ready", "status": "True"}), True),
        (certificate(1, {"type": "Ready", "status": "False", "observedGeneration": 1}), False),
        (certificate(1, {"type": "Issuing", "status": "True"}), False),
        ({}, False),
    ],
)
def test_ready_means_ready_for_the_current_generation(cert, ready):
    assert is_ready(cert) is ready
