"""The failed-issuance backoff flags of serve and controller, down to ControllerOptions."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from certsmith.app import StartupError, controller_options
from certsmith.cli.main import build_parser

HOUR = dt.timedelta(hours=1)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", [("serve", "--data-dir", "d"), ("controller",)])
def test_backoff_defaults_are_cert_managers_1h_and_32h(command: tuple[str, ...]) -> None:
    args = parse(*command)
    assert args.certificate_request_minimum_backoff_duration == HOUR
    assert args.certificate_request_maximum_backoff_duration == 32 * HOUR


@pytest.mark.parametrize("command", [("serve", "--data-dir", "d"), ("controller",)])
def test_backoff_flags_take_go_durations(command: tuple[str, ...]) -> None:
    args = parse(
        *command,
        "--certificate-request-minimum-backoff-duration=90s",
        "--certificate-request-maximum-backoff-duration",
        "2h30m",
    )
    assert args.certificate_request_minimum_backoff_duration == dt.timedelta(seconds=90)
    assert args.certificate_request_maximum_backoff_duration == dt.timedelta(hours=2, minutes=30)


@pytest.mark.parametrize("value", ["0s", "-1h", "soon", "1d"])
def test_backoff_flags_reject_non_positive_or_malformed_durations(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse("controller", f"--certificate-request-minimum-backoff-duration={value}")
    assert "--certificate-request-minimum-backoff-duration" in capsys.readouterr().err


def test_controller_options_carry_the_backoff() -> None:
    options = controller_options(certificate_request_backoff=(dt.timedelta(minutes=5), 2 * HOUR))
    assert options is not None
    assert options.certificate_request_minimum_backoff == dt.timedelta(minutes=5)
    assert options.certificate_request_maximum_backoff == 2 * HOUR


def test_a_minimum_above_the_maximum_fails_at_startup() -> None:
    with pytest.raises(StartupError, match="minimum-backoff"):
        controller_options(certificate_request_backoff=(2 * HOUR, HOUR))
