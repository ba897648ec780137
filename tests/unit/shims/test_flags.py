"""The shim flags of ``serve`` and ``controller``: cert-manager's names, Go booleans, defaults."""

from __future__ import annotations

import pytest

from certsmith.cli.main import build_parser
from certsmith.cli.shimflags import shim_options
from certsmith.controllers.shims.annotations import IssuerDefaults
from certsmith.controllers.shims.sync import ShimOptions

SERVE = ("serve", "--data-dir", "/tmp/x")
CONTROLLER = ("controller",)


def options(*argv: str) -> ShimOptions:
    args = build_parser().parse_args(list(argv))
    return shim_options(args, embedded=argv[0] == "serve")


@pytest.mark.parametrize(
    ("argv", "gateway", "istio"),
    [
        (SERVE, True, True),
        (CONTROLLER, False, False),
        ((*SERVE, "--enable-gateway-api=false"), False, True),
        ((*CONTROLLER, "--enable-gateway-api"), True, False),
        ((*CONTROLLER, "--enable-istio-gateway=True"), False, True),
    ],
    ids=["serve_serves_the_types", "controller_as_cert_manager", "serve_opt_out",
         "controller_bare_flag", "controller_go_bool"],
)  # fmt: skip
def test_gateway_opt_ins(argv: tuple[str, ...], gateway: bool, istio: bool) -> None:
    got = options(*argv)
    assert (got.enable_gateway_api, got.enable_istio_gateway) == (gateway, istio)


def test_defaults_are_cert_managers() -> None:
    got = options(*CONTROLLER)
    assert got.default_issuer == IssuerDefaults("", "Issuer", "cert-manager.io")
    assert got.auto_certificate_annotations == ("kubernetes.io/tls-acme",)
    assert got.extra_certificate_annotations == ()


def test_lists_and_default_issuer_are_read() -> None:
    got = options(
        *CONTROLLER,
        "--default-issuer-name=le",
        "--default-issuer-kind=ClusterIssuer",
        "--auto-certificate-annotations=a.io/x, b.io/y",
        "--extra-certificate-annotations=venafi.cert-manager.io/custom-fields",
        "--gateway-api-extra-protocols=DTLS",
    )
    assert got.default_issuer == IssuerDefaults("le", "ClusterIssuer", "cert-manager.io")
    assert got.auto_certificate_annotations == ("a.io/x", "b.io/y")
    assert got.extra_certificate_annotations == ("venafi.cert-manager.io/custom-fields",)
    assert got.gateway_api_extra_protocols == ("DTLS",)


def test_a_non_boolean_opt_in_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*CONTROLLER, "--enable-gateway-api=maybe"])
    assert "expected true or false, got 'maybe'" in capsys.readouterr().err
