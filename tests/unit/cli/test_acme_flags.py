"""The ACME flags of serve and controller, and where HTTP-01 is answered by default."""

from __future__ import annotations

import argparse

import pytest

from certsmith.cli.acmeflags import acme_options, http01_listen
from certsmith.cli.main import build_parser


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize(
    ("argv", "api_host", "expect"),
    [
        ((), "127.0.0.1", None),
        ((), "::1", None),
        ((), "localhost", None),
        ((), "0.0.0.0", ("0.0.0.0", 80)),
        ((), "192.0.2.10", ("0.0.0.0", 80)),
        (("--acme-http01-listen", "127.0.0.1:5002"), "127.0.0.1", ("127.0.0.1", 5002)),
        (("--acme-http01-listen", "0"), "0.0.0.0", None),
        (("--acme-http01-listen", ":8080"), "127.0.0.1", ("0.0.0.0", 8080)),
    ],
)
def test_serve_answers_http01_on_port_80_only_when_public(
    argv: tuple[str, ...], api_host: str, expect: tuple[str, int] | None
) -> None:
    args = parse("serve", "--data-dir", "d", *argv)
    assert http01_listen(args, api_host) == expect


def test_controller_answers_http01_only_when_asked() -> None:
    assert http01_listen(parse("controller"), None) is None
    args = parse("controller", "--acme-http01-listen", "127.0.0.1:5002")
    assert http01_listen(args, None) == ("127.0.0.1", 5002)


def test_acme_options_from_flags() -> None:
    args = parse(
        "serve",
        "--data-dir",
        "d",
        "--acme-http01-solver-nameservers",
        "127.0.0.1:8053,[::1]:53",
        "--acme-http01-self-check-port",
        "5002",
        "--dns01-recursive-nameservers",
        "192.0.2.53",
        "--dns01-recursive-nameservers-only",
        "--dns01-check-settle",
        "5s",
        "--max-concurrent-challenges",
        "7",
    )
    options = acme_options(args)
    assert options.http01_check.nameservers == ("127.0.0.1:8053", "[::1]:53")
    assert options.http01_check.port == 5002
    assert options.dns01.check_authoritative is False
    assert [str(ns) for ns in options.dns01.recursive_nameservers] == ["192.0.2.53:53"]
    assert options.dns01_settle == 5.0
    assert options.max_concurrent_challenges == 7
    assert options.observer is not None


@pytest.mark.parametrize(
    "argv",
    [
        ("--acme-http01-solver-nameservers", "dns.example.com"),
        ("--acme-http01-self-check-port", "0"),
        ("--acme-http01-listen", "nonsense"),
        ("--dns01-check-settle", "soon"),
    ],
)
def test_bad_acme_flags_are_refused(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse("serve", "--data-dir", "d", *argv)
    assert "error:" in capsys.readouterr().err
