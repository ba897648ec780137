"""cert-manager's metrics and probe flags on serve and controller."""

from __future__ import annotations

import argparse

import pytest

from certsmith.cli.main import build_parser


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_controller_defaults_to_cert_managers_metrics_and_probe_addresses():
    args = parse("controller")
    assert args.metrics_listen_address == ("0.0.0.0", 9402)
    assert args.health_probe_bind_address == ("0.0.0.0", 9403)


def test_serve_has_no_plain_metrics_listener_unless_asked():
    assert parse("serve", "--data-dir", "d").metrics_listen_address is None
    args = parse("serve", "--data-dir", "d", "--metrics-listen-address", "127.0.0.1:9402")
    assert args.metrics_listen_address == ("127.0.0.1", 9402)


@pytest.mark.parametrize("off", ["0", ""])
def test_zero_or_empty_turns_the_controllers_listeners_off(off):
    args = parse(
        "controller", f"--metrics-listen-address={off}", f"--health-probe-bind-address={off}"
    )
    assert (args.metrics_listen_address, args.health_probe_bind_address) == (None, None)


def test_a_malformed_address_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit):
        parse("controller", "--metrics-listen-address", "9402")
    assert "expected HOST:PORT, or 0 to disable, got '9402'" in capsys.readouterr().err
